"""A running sweep: failures reach stderr in every mode, one sweep per folder, resume only for
unchanged input files, a leaderboard that is never stale, and Ctrl-C recorded as such."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from robaudit.atomic import out_lock
from robaudit.cli import main
from robaudit.sweep.state import STOPPED
from tests.conftest import write_small_cnn
from tests.test_sweep_zoo import make_zoo_folder, start_three_model_sweep, write_zoo


def record(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


def rows(out: Path) -> dict[str, dict]:
    return {row["name"]: row for row in record(out)["models"]}


@pytest.mark.parametrize("flags", [["-q"], ["--json"], []], ids=["quiet", "json", "plain"])
def test_every_failed_model_gets_one_line_on_stderr_in_every_mode(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", "file:nan.pt",
                                                {"spec": "file:broken.pt", "name": "broken"}])
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), *flags]) == 1
    captured = capsys.readouterr()
    failed = [line for line in captured.err.splitlines() if ": failed (" in line]
    assert [line.split(":")[0] for line in failed] == ["nan", "broken"]
    assert "NaN or infinite logits" in failed[0] and "cannot read checkpoint" in failed[1]
    if flags == ["--json"]:
        assert json.loads(captured.out)["counts"] == {"done": 1, "failed": 2, "skipped": 0}


def test_a_second_sweep_into_a_folder_in_use_is_refused_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", "file:refs/b.pt"])
    out = tmp_path / "out"
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "models" / "b" / "report.json").unlink()  # work a second sweep would do
    with out_lock(out):  # another robaudit run holds the folder
        assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another robaudit run is writing into" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == {
        p: data for p, data in before.items() if p != out / "models" / "b" / "report.json"}


def test_overwritten_weights_rerun_the_model_on_resume(tmp_path: Path) -> None:
    root = make_zoo_folder(tmp_path)
    zoo = write_zoo(root, ["file:refs/a.pt", "file:refs/b.pt"])
    out = tmp_path / "out"
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    old = json.loads((out / "models" / "a" / "report.json").read_text())["model"]["weights_sha256"]
    write_small_cnn(root / "refs" / "a.pt", 9)
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    again = rows(out)
    assert again["a"]["resumed"] is False and again["b"]["resumed"] is True
    assert json.loads((out / "models" / "a" / "report.json").read_text())["model"]["weights_sha256"] != old


def test_a_leaderboard_that_cannot_be_rebuilt_is_reported_and_the_old_one_removed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Same settings for every entry, but the dataset file changed before b reran: the reports
    disagree on the data, so the leaderboard is refused, said on stderr, and the previous one goes."""
    root = make_zoo_folder(tmp_path)
    zoo = write_zoo(root, ["file:refs/a.pt", "file:refs/b.pt"])
    out = tmp_path / "out"
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    written = sorted(p.name for p in out.iterdir() if p.name.startswith("leaderboard.") or p.suffix == ".png")
    assert {f"leaderboard.{ext}" for ext in ("csv", "json", "md", "html")} <= set(written)
    (out / "notes.md").write_text("mine")
    (out / "leaderboard-old.csv").write_text("not the sweep's")
    rng = np.random.default_rng(1)
    np.savez(root / "data.npz", x=rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8), y=np.arange(200) % 10)
    (out / "models" / "b" / "report.json").unlink()
    capsys.readouterr()
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("leaderboard not written:") and "data.sha256" in err[0]
    assert not any((out / name).exists() for name in written)
    assert "data.sha256" in record(out)["leaderboard_error"] and record(out)["leaderboard_files"] == []
    assert (out / "notes.md").read_text() == "mine" and (out / "leaderboard-old.csv").is_file()


def test_entries_the_zoo_gives_different_settings_share_one_mixed_leaderboard(tmp_path: Path) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", {"spec": "file:refs/b.pt", "n_images": 20}])
    out = tmp_path / "out"
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    assert record(out)["leaderboard_error"] is None
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["allow_mixed"] is True and board["differing_settings"] == ["hybrid.n_images"]


def test_same_settings_make_a_strict_leaderboard(tmp_path: Path) -> None:
    zoo = write_zoo(make_zoo_folder(tmp_path), ["file:refs/a.pt", "file:refs/b.pt"])
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert json.loads((tmp_path / "out" / "leaderboard.json").read_text())["allow_mixed"] is False


def test_ctrl_c_records_the_running_model_as_interrupted_and_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _, proc = start_three_model_sweep(tmp_path, out, subprocess.PIPE, n_images=200, hybrid_seeds=8,
                                      hybrid_grid="uniform:16")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (out / "models" / "a").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert "run the same `robaudit sweep` command again to resume" in err and "train-reference" not in err
    assert [line for line in err.splitlines() if line.strip()][-1].startswith("interrupted:")
    models = rows(out)
    assert {n: r["status"] for n, r in models.items()} == {"a": "skipped", "b": "skipped", "c": "skipped"}
    assert "interrupted while this model ran" in models["a"]["reason"]
    assert models["b"]["reason"] == models["c"]["reason"] == STOPPED
    assert record(out)["finished"] is False
