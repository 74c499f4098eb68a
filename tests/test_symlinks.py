"""Planted symlinks at every path robaudit writes are replaced, never written through: the file or
place they point to is left as it was (a symlink attack on a shared machine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from robaudit.cli import main
from tests.bad_inputs import CHEAP, good_npz
from tests.conftest import TINY_FACTORY


class Victims:
    """Files a planted link points at (their bytes must not change) and dangling targets (which
    must not be created)."""

    def __init__(self, root: Path) -> None:
        self.root = root / "victims"
        self.root.mkdir()
        self.targets: list[tuple[Path, bool]] = []

    def plant(self, link: Path, existing: bool | None = None) -> None:
        """Put a symlink at ``link``: to an existing victim file, or (every other one, or when
        ``existing`` is False) to a path that does not exist."""
        existing = len(self.targets) % 2 == 0 if existing is None else existing
        target = self.root / f"v{len(self.targets)}"
        if existing:
            target.write_bytes(target.name.encode())
        self.targets.append((target, existing))
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(target)

    def assert_untouched(self) -> None:
        for target, existing in self.targets:
            if existing:
                assert target.read_bytes() == target.name.encode(), f"{target} was written through a link"
            else:
                assert not target.exists(), f"{target} was created through a dangling link"


@pytest.fixture
def specs(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "f.py").write_text(TINY_FACTORY)
    np.savez(tmp_path / "d.npz", **good_npz(60))  # type: ignore[arg-type]
    return f"py:{tmp_path / 'f.py'}:make", f"npz:{tmp_path / 'd.npz'}"


def test_report_files_cache_units_and_junit(tmp_path: Path, specs: tuple[str, str]) -> None:
    model, data = specs
    out, victims = tmp_path / "card", Victims(tmp_path)
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - {metric: config.seed, min: 0}\n")
    args = ["score", "-m", model, "-d", data, "-o", str(out), *CHEAP, "--policy", str(policy)]
    assert main([*args, "--junit", str(tmp_path / "j.xml")]) == 0
    cached = sorted((out / ".robaudit-cache").rglob("*.npz"))
    written = [*cached, *(p for p in out.iterdir() if p.is_file() and not p.name.startswith("."))]
    for path in [*written, tmp_path / "j.xml"]:
        victims.plant(path)
    assert main([*args, "--junit", str(tmp_path / "j.xml"), "--no-cache"]) == 0  # every report file rewritten
    assert main([*args, "--junit", str(tmp_path / "j.xml")]) == 0  # cache units: read, found bad, rewritten
    victims.assert_untouched()
    for path in [*written, tmp_path / "j.xml"]:
        assert path.is_file() and not path.is_symlink(), path
    assert main(["check", str(out / "report.json"), "--policy", str(policy), "--junit", str(tmp_path / "k.xml")]) == 0


def test_the_folder_lock_is_not_followed(tmp_path: Path, specs: tuple[str, str]) -> None:
    model, data = specs
    out, victims = tmp_path / "card", Victims(tmp_path)
    victims.plant(out / ".robaudit.lock")
    victims.plant(tmp_path / "other" / ".robaudit.lock")
    assert main(["score", "-m", model, "-d", data, "-o", str(out), *CHEAP]) == 2
    assert main(["score", "-m", model, "-d", data, "-o", str(tmp_path / "other"), *CHEAP]) == 2
    victims.assert_untouched()


def test_corrupt_outputs(tmp_path: Path, specs: tuple[str, str]) -> None:
    _, data = specs
    out, victims = tmp_path / "set", Victims(tmp_path)
    names = ("labels.npy", "manifest.json", "contrast.npy", "brightness.npy")
    for name in names:
        victims.plant(out / name)
    args = ["corrupt", data, "-o", str(out), "--corruptions", "contrast,brightness", "--n-images", "5"]
    assert main(args) == 2  # links where a set's files go: another set, refused
    assert main([*args, "--overwrite"]) == 0
    victims.assert_untouched()
    assert all((out / name).is_file() and not (out / name).is_symlink() for name in names)
    assert np.load(out / "contrast.npy").shape == (25, 32, 32, 3)


def test_train_reference_checkpoint_and_resume_state(tmp_path: Path, specs: tuple[str, str]) -> None:
    _, data = specs
    victims = Victims(tmp_path)
    checkpoint = tmp_path / "ref.pt"
    victims.plant(checkpoint, existing=False)
    victims.plant(tmp_path / "ref.pt.state", existing=True)
    args = ["train-reference", "baseline", "--dataset", data, "--out", str(checkpoint), "--epochs", "1",
            "--arch", "small-cnn", "--recipe", "small", "--device", "cpu", "-q"]
    assert main(args) == 2  # a planted .state is read as a resume state: not one, refused
    assert main([*args, "--no-resume"]) == 0
    victims.assert_untouched()
    assert checkpoint.is_file() and not checkpoint.is_symlink()
    assert not (tmp_path / "ref.pt.state").exists()
    assert hashlib.sha256(checkpoint.read_bytes()).hexdigest()
