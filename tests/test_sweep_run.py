"""Running a sweep: failures recorded while the others go on, kill and resume, shared work."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from robaudit.cli import main
from robaudit.report_schema import validate_report
from robaudit.sweep import run_sweep, shared
from tests.conftest import assert_same_metrics
from tests.test_sweep_zoo import make_zoo_folder, start_three_model_sweep, write_zoo

TINY_FLAGS = ["--probes", "hybrid", "--n-images", "40", "--hybrid-seeds", "2", "--hybrid-grid", "uniform:6"]


def sweep_record(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


def test_failing_models_are_recorded_and_the_others_match_score(tmp_path: Path) -> None:
    """A NaN model and an unreadable checkpoint fail with their reason; the others hold what
    `score` writes for them."""
    root = make_zoo_folder(tmp_path)
    zoo = write_zoo(root, ["file:refs/a.pt", "file:nan.pt", {"spec": "file:broken.pt", "name": "broken"},
                           "file:refs/b.pt"])
    out = tmp_path / "sweep"
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 1
    record = sweep_record(out)
    rows = {row["name"]: row for row in record["models"]}
    assert [row["name"] for row in record["models"]] == ["a", "nan", "broken", "b"]
    assert {n: r["status"] for n, r in rows.items()} == {"a": "done", "nan": "failed", "broken": "failed", "b": "done"}
    assert "NaN or infinite logits" in rows["nan"]["reason"] and "cannot read checkpoint" in rows["broken"]["reason"]
    assert all("\n" not in (r["reason"] or "") and r["seconds"] >= 0 and r["device"] for r in rows.values())
    assert record["counts"] == {"done": 2, "failed": 2, "skipped": 0} and record["finished"]
    single = tmp_path / "single"
    assert main(["score", "-m", f"file:{root}/refs/b.pt", "-d", f"npz:{root}/data.npz", "-o", str(single),
                 *TINY_FLAGS, "-q"]) == 0
    swept = json.loads((out / "models" / "b" / "report.json").read_text())
    scored = json.loads((single / "report.json").read_text())
    validate_report(swept)
    assert swept["probes"] == scored["probes"] and swept["config"] == scored["config"]
    assert sorted(p.name for p in (out / "models" / "b").iterdir()) == sorted(p.name for p in single.iterdir())


def test_a_killed_sweep_resumes_without_rerunning_finished_models(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    zoo, proc = start_three_model_sweep(tmp_path, out, subprocess.DEVNULL, n_images=120, hybrid_seeds=4,
                                        hybrid_grid="uniform:12")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "sweep.json").exists() and sweep_record(out)["counts"]["done"] >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = sweep_record(out)
    finished = [row["name"] for row in first["models"] if row["status"] == "done"]
    assert finished and len(finished) < 3 and not first["finished"]
    stamps = {n: (out / "models" / n / "report.json").stat().st_mtime_ns for n in finished}
    created = {n: json.loads((out / "models" / n / "report.json").read_text())["created"] for n in finished}
    assert main(["sweep", str(zoo), "-o", str(out), "-q"]) == 0
    second = sweep_record(out)
    assert all(row["status"] == "done" for row in second["models"]) and second["finished"]
    for name in finished:
        assert (out / "models" / name / "report.json").stat().st_mtime_ns == stamps[name]
        assert json.loads((out / "models" / name / "report.json").read_text())["created"] == created[name]
        assert next(r for r in second["models"] if r["name"] == name)["resumed"] is True


def test_models_share_the_dataset_and_the_generated_corruptions(tmp_path: Path) -> None:
    """The second model reuses the first's corrupted images, and its numbers equal `score`'s."""
    root = make_zoo_folder(tmp_path)
    sets = ["corruptions.corruptions=[glass_blur,shot_noise]", "corruptions.severities=[2]",
            "corruptions.noise_sweep=[0.0]"]
    zoo = write_zoo(root, ["file:refs/a.pt", "file:refs/b.pt"], probes=["corruptions"], n_images=60, set=sets)
    shared._DATASETS.clear()
    hits, misses = shared.MEMO.hits, shared.MEMO.misses
    outcome = run_sweep(zoo, tmp_path / "sweep", leaderboard=False)
    assert outcome.exit_code == 0
    assert shared.MEMO.misses - misses == 2 and shared.MEMO.hits - hits == 2  # 2 cells, made once each
    assert len(shared._DATASETS) == 1
    single = tmp_path / "single"
    sets = ["corruptions.corruptions=[glass_blur,shot_noise]", "corruptions.severities=[2]",
            "corruptions.noise_sweep=[0.0]"]
    assert main(["score", "-m", f"file:{root}/refs/b.pt", "-d", f"npz:{root}/data.npz", "-o", str(single), "-q",
                 "--probes", "corruptions", "--n-images", "60", *[a for s in sets for a in ("--set", s)]]) == 0
    swept = json.loads((tmp_path / "sweep" / "models" / "b" / "report.json").read_text())
    assert swept["probes"] == json.loads((single / "report.json").read_text())["probes"]


@pytest.mark.parametrize("jobs", [2])
def test_local_worker_processes_give_the_same_reports(tmp_path: Path, jobs: int) -> None:
    root = make_zoo_folder(tmp_path)
    zoo = write_zoo(root, ["file:refs/a.pt", "file:refs/b.pt"])
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "one"), "-q"]) == 0
    assert main(["sweep", str(zoo), "-o", str(tmp_path / "pool"), "--jobs", str(jobs), "-q"]) == 0
    for name in ("a", "b"):
        one, pool = (json.loads((tmp_path / d / "models" / name / "report.json").read_text()) for d in ("one", "pool"))
        assert_same_metrics(one["probes"], pool["probes"])  # 1 CPU thread per worker: float order only
