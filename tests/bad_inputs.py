"""Shared by the bad-input tables: an earlier report card built once per module, the bad files
each row needs, and the assertions every row makes (exit 2 or 3, one line on stderr, no
traceback, the earlier report's files byte-identical)."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from robaudit.cli import main
from tests.conftest import TINY_FACTORY

CHEAP = ["--probes", "hybrid", "--n-images", "20", "--hybrid-seeds", "1", "--hybrid-grid", "uniform:3",
         "--batch-size", "64", "-q"]


@dataclass
class Env:
    """Where a row builds its inputs: ``tmp`` (fresh per row), the earlier report folder
    ``card`` and the specs of a tiny working model and dataset."""

    tmp: Path
    card: Path
    model: str
    data: str

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def npz(self, name: str = "d.npz", **arrays: object) -> str:
        path = self.tmp / name
        np.savez(path, **arrays)  # type: ignore[arg-type]
        return f"npz:{path}"

    def factory(self, body: str, name: str = "f.py") -> str:
        """A `py:` spec of ``make`` defined by ``body`` (torch and nn imported)."""
        path = self.file(name, "import torch\nfrom torch import nn\n" + body)
        return f"py:{path}:make"


def good_npz(n: int = 40, size: int = 32, **changes: object) -> dict[str, object]:
    rng = np.random.default_rng(0)
    arrays: dict[str, object] = {"x": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                                 "y": np.arange(n) % 10}
    arrays.update(changes)
    return arrays


def net_factory(forward: str, width: int = 10, declared: int = 10) -> str:
    """A factory body whose module's forward is ``forward`` (x → return value)."""
    return f"""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3 * 32 * 32, {width})
    def forward(self, x):
        return {forward}

def make():
    return {{"model": Net(), "input_size": [3, 32, 32], "num_classes": {declared}}}
"""


def cifar_folder(env: Env, batch: object) -> Path:
    """A --data-dir whose cifar-10-batches-py holds ``batch`` as its test batch."""
    folder = env.tmp / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c"] * 10}))
    return env.tmp / "cifar"


def checkpoint(env: Env, name: str, change: Callable[[dict], None] | None = None) -> Path:
    """A robaudit checkpoint of the small CNN, optionally altered by ``change(payload)``."""
    from tests.conftest import write_small_cnn

    path = write_small_cnn(env.tmp / name, seed=0)
    if change is not None:
        payload = torch.load(path, weights_only=True)
        change(payload)
        torch.save(payload, path)
    return path


def build_card(tmp: Path) -> tuple[Path, str, str]:
    """(report folder, model spec, data spec) of a successful cheap `score` run."""
    factory = tmp / "tiny_factory.py"
    factory.write_text(TINY_FACTORY)
    path = tmp / "tiny.npz"
    np.savez(path, **good_npz(60))  # type: ignore[arg-type]
    model, data, card = f"py:{factory}:make", f"npz:{path}", tmp / "card"
    assert main(["score", "-m", model, "-d", data, "-o", str(card), *CHEAP]) == 0
    return card, model, data


def card_hashes(card: Path) -> dict[str, str]:
    """SHA-256 of every report file in ``card`` (the lock and error log are not report files)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(card.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.name != "robaudit-error.log"}


def assert_refused(argv: list[str], card: Path, capsys: pytest.CaptureFixture[str], codes: tuple[int, ...] = (2,),
                   message: str = "") -> str:
    """Run the CLI in-process and make every row's assertions; returns stderr."""
    before = card_hashes(card)
    capsys.readouterr()
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code in codes, f"exit {code}, stderr: {err}"
    assert "Traceback" not in captured.err + captured.out
    assert len(err.splitlines()) == 1, f"stderr is not one line: {err}"
    assert err.startswith(("error:", "internal error:")), err
    assert message.lower() in err.lower(), f"{message!r} not in {err!r}"
    assert card_hashes(card) == before
    assert json.loads((card / "report.json").read_text())["files"]  # still the earlier card
    return err
