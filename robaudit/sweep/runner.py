"""Run a whole zoo: plan and check it, skip what an earlier run finished, run the rest through an
executor, keep DIR/sweep.json and the leaderboard current after every model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from robaudit.errors import one_line
from robaudit.sweep.executors import EXECUTORS, ExecutorOptions
from robaudit.sweep.plan import ModelJob, plan_sweep
from robaudit.sweep.progress import SweepProgress
from robaudit.sweep.state import SweepState
from robaudit.sweep.worker import JobResult


@dataclass
class SweepOutcome:
    """What the sweep did: sweep.json's content and the exit code (0 all done, 1 some failed)."""

    record: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return 0 if all(row["status"] == "done" for row in self.record["models"]) else 1


def update_leaderboard(folder: Path) -> str | None:
    """Rewrite the leaderboard in the sweep folder; returns the one-line error when it could not."""
    try:
        from robaudit.compare import write_leaderboard

        write_leaderboard([folder], folder)
    except Exception as exc:  # the sweep goes on without a leaderboard; sweep.json says why
        return one_line(exc)
    return None


def run_sweep(zoo: Path, out: Path, executor: str = "local", options: ExecutorOptions | None = None,
              console: Console | None = None, show_progress: bool = False, command: str | None = None,
              leaderboard: bool = True) -> SweepOutcome:
    """Run every model of ``zoo`` into ``out``; bad zoo files raise before any model runs."""
    backend = EXECUTORS.get(executor)(options or ExecutorOptions(folder=out))
    zoo_file, jobs = plan_sweep(zoo, out)
    if command:
        for job in jobs:
            job.config.command = command
    state = SweepState(out, zoo_file.path, executor, jobs)
    todo = state.todo(jobs)
    state.write()

    def on_result(result: JobResult) -> None:
        state.record(result)
        state.write()
        if leaderboard:
            state.header["leaderboard_error"] = update_leaderboard(out)
            state.write()
        bars.advance(result)

    bars = SweepProgress(len(jobs), len(jobs) - len(todo), console or Console(stderr=True), show_progress)
    with bars:
        progress_for = bars.model_bars if backend.shows_model_progress else _no_bars
        try:
            backend.launch(todo, on_result, progress_for)
        except KeyboardInterrupt:
            state.finish(interrupted=True)
            state.write()
            raise
    state.finish()
    if leaderboard and not todo:
        state.header["leaderboard_error"] = update_leaderboard(out)
    state.write()
    return SweepOutcome(state.as_json())


def _no_bars(job: ModelJob) -> Any:
    from robaudit.probes.base import _no_progress

    return _no_progress


def plan_only(zoo: Path, out: Path) -> list[ModelJob]:
    """The expanded, checked models without running any (``--dry-run``)."""
    return plan_sweep(zoo, out)[1]


def jobs_as_json(jobs: list[ModelJob]) -> list[dict[str, Any]]:
    return [{"name": job.name, "spec": job.spec, "out": f"models/{job.name}", **job.work(),
             "options": {k: v for k, v in dataclasses.asdict(job.config).items() if k not in ("out", "command")}}
            for job in jobs]
