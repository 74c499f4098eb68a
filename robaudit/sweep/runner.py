"""Run a whole zoo: plan and check it, skip what an earlier run finished, run the rest through an
executor, keep DIR/sweep.json and the leaderboard current after every model.

The sweep folder is locked for the whole run (:func:`robaudit.atomic.out_lock`): a second sweep
into the same folder is refused at once, before it changes anything.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from robaudit.atomic import out_lock
from robaudit.sweep.board import mixed_on_purpose, write_board
from robaudit.sweep.executors import EXECUTORS, Executor, ExecutorOptions
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


def run_sweep(zoo: Path, out: Path, executor: str = "local", options: ExecutorOptions | None = None,
              console: Console | None = None, show_progress: bool = False, command: str | None = None,
              leaderboard: bool = True) -> SweepOutcome:
    """Run every model of ``zoo`` into ``out``; bad zoo files raise before any model runs."""
    backend = EXECUTORS.get(executor)(options or ExecutorOptions(folder=out))
    zoo_file, jobs = plan_sweep(zoo, out)
    token = uuid.uuid4().hex
    for job in jobs:
        job.sweep = token
        job.config.command = command or job.config.command
    with out_lock(out):
        state = SweepState(out, zoo_file.path, executor, jobs)
        return _run(state, backend, jobs, console or Console(stderr=True), show_progress, leaderboard)


def _run(state: SweepState, backend: Executor, jobs: list[ModelJob], console: Console, show_progress: bool,
         leaderboard: bool) -> SweepOutcome:
    """Run the jobs not finished before; sweep.json and the leaderboard follow every result."""
    todo = state.todo(jobs)
    allow_mixed = leaderboard and mixed_on_purpose(jobs)
    state.write()

    def update_board() -> None:
        if leaderboard:
            error, files = write_board(state.folder, allow_mixed, state.header["leaderboard_files"])
            state.header.update(leaderboard_error=error, leaderboard_files=files)

    def on_result(result: JobResult) -> None:
        state.record(result)
        state.write()
        update_board()
        state.write()
        bars.advance(result)

    bars = SweepProgress(len(jobs), len(jobs) - len(todo), console, show_progress)
    with bars:
        progress_for = bars.model_bars if backend.shows_model_progress else _no_bars
        try:
            backend.launch(todo, on_result, progress_for)
        except KeyboardInterrupt:
            state.finish(interrupted=True, running=backend.running)
            state.write()
            raise
    state.finish()
    if not todo:
        update_board()
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
