"""Every executor gives the same per-model metrics as the local one (same seed, same device type)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robaudit.sweep import run_sweep
from robaudit.sweep.executors import ExecutorOptions
from tests.conftest import assert_same_metrics
from tests.test_sweep_zoo import make_zoo_folder, write_zoo

REMOTE = [  # (executor, options): a Ray instance started here, submitit's local executor
    ("ray", {"cpus_per_model": 1}),
    ("slurm", {"slurm_cluster": "local", "slurm_time": 20}),
]


def test_choosing_the_local_executor_imports_no_backend(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from robaudit.sweep.executors import EXECUTORS; "
            "assert EXECUTORS.names() == ['local', 'ray', 'slurm']; "
            "assert 'ray' not in sys.modules and 'submitit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


@pytest.fixture(scope="module")
def zoo_and_local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_zoo_folder(tmp_path_factory.mktemp("zoo"))
    zoo = write_zoo(root, ["file:refs/a.pt", "file:refs/b.pt", "file:nan.pt"])
    local = root / "local"
    assert run_sweep(zoo, local).exit_code == 1
    return zoo, local


def reports(folder: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted((folder / "models").glob("*/report.json"))}


@pytest.mark.parametrize(("executor", "options"), REMOTE, ids=[e for e, _ in REMOTE])
def test_remote_executors_match_local(zoo_and_local: tuple[Path, Path], executor: str, options: dict) -> None:
    zoo, local = zoo_and_local
    out = zoo.parent / executor
    try:
        outcome = run_sweep(zoo, out, executor, ExecutorOptions(folder=out, **options))
    finally:
        if executor == "ray":
            import ray

            ray.shutdown()
    assert outcome.exit_code == 1
    statuses = {row["name"]: (row["status"], row["reason"]) for row in outcome.record["models"]}
    local_record = json.loads((local / "sweep.json").read_text())
    assert statuses == {row["name"]: (row["status"], row["reason"]) for row in local_record["models"]}
    remote, here = reports(out), reports(local)
    assert sorted(remote) == sorted(here) == ["a", "b"]
    for name in here:
        assert_same_metrics(remote[name]["probes"], here[name]["probes"])
        files = {p.relative_to(local / "models" / name).as_posix() for p in (local / "models" / name).rglob("*")}
        assert files == {p.relative_to(out / "models" / name).as_posix() for p in (out / "models" / name).rglob("*")}
    assert (out / "leaderboard.csv").is_file()
