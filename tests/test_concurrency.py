"""Real processes: two runs into one folder, Ctrl-C mid-run. Each `robaudit` here is a subprocess
(`python -m robaudit`), as a user or CI would start it."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs import CHEAP, good_npz
from tests.conftest import TINY_FACTORY

ROOT = Path(__file__).parents[1]
GATED_FACTORY = TINY_FACTORY + '''
import os, time
from pathlib import Path


class Slow(nn.Module):
    """The tiny CNN, sleeping SLOW_SECONDS per call (a model that takes its time)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
        return self.net(x)


def make_gated():
    """Waits for GO_FILE before building the model (the test decides when the run proceeds)."""
    go = Path(os.environ["GO_FILE"])
    while not go.exists():
        time.sleep(0.05)
    made = make()
    made["model"] = Slow(made["model"])
    return made
'''


@pytest.fixture
def specs(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "gated.py").write_text(GATED_FACTORY)
    np.savez(tmp_path / "d.npz", **good_npz(60))  # type: ignore[arg-type]
    return f"py:{tmp_path / 'gated.py'}:make_gated", f"npz:{tmp_path / 'd.npz'}"


def start(args: list[object], env: dict[str, str]) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env}
    return subprocess.Popen([sys.executable, "-m", "robaudit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment, preexec_fn=_sigint_as_default)


def _sigint_as_default() -> None:
    """In the child before exec: SIGINT handled by default and not blocked. A library used by an
    earlier test may leave it ignored or blocked in pytest, and both are inherited across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended early: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def lock_held(out: Path) -> bool:
    """Whether another process holds out/.robaudit.lock (the run's folder lock)."""
    path = out / ".robaudit.lock"
    if not path.exists():
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def test_a_second_run_into_the_same_folder_fails_with_one_line_and_mixes_nothing(
        tmp_path: Path, specs: tuple[str, str]) -> None:
    model, data = specs
    out, go = tmp_path / "card", tmp_path / "go"
    first = start(["score", "-m", model, "-d", data, "-o", out, *CHEAP], {"GO_FILE": str(go)})
    wait_for(lambda: lock_held(out), first)  # the first run holds the folder and waits for GO
    second = start(["score", "-m", model, "-d", data, "-o", out, *CHEAP, "--seed", "7"], {"GO_FILE": str(go)})
    _, err = second.communicate(timeout=300)
    go.touch()
    assert second.returncode == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "another robaudit run is writing" in err
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["seed"] == 0  # the first run's card, whole
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        "report.json", "report.md", *report["files"]["plots"], *report["files"]["arrays"]}


def test_ctrl_c_prints_the_resume_line_exits_130_and_the_rerun_resumes(tmp_path: Path, specs: tuple[str, str]) -> None:
    model, data = specs
    out, go = tmp_path / "card", tmp_path / "go"
    go.touch()
    many_cells = ["--probes", "corruptions", "--n-images", "20", "--set", "corruptions.noise_sweep=[0.0]",
                  "--set", "corruptions.corruptions=[contrast,brightness,pixelate]", "-q"]
    args = ["score", "-m", model, "-d", data, "-o", out, *many_cells]
    run = start(args, {"GO_FILE": str(go), "SLOW_SECONDS": "1.0"})
    cache = out / ".robaudit-cache" / "corruptions"
    wait_for(lambda: cache.is_dir() and len(list(cache.glob("*.npz"))) >= 3, run)
    run.send_signal(signal.SIGINT)
    stdout, err = run.communicate(timeout=120)
    assert run.returncode == 130, (stdout[-500:], err[-1500:])
    assert "Traceback" not in stdout + err and len(err.strip().splitlines()) == 1
    assert "interrupted" in err and "run the same command again to resume" in err
    assert not (out / "report.json").exists()
    saved = len(list(cache.glob("*.npz")))
    rerun = start(args, {"GO_FILE": str(go)})
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert json.loads((out / "report.json").read_text())["provenance"]["cache"]["hits"] == saved
