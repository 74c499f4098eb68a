"""Terminal display of a sweep: an overall bar (models done / total, ETA) above each model's bars,
and a summary table at the end."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from robaudit.probes.base import ProgressFactory
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.worker import JobResult


def progress_bar(console: Console, disable: bool, transient: bool) -> Progress:
    """The one Rich progress layout: description, bar, done/total, elapsed, ETA. Drawn only on a
    terminal: elsewhere (a CI log, a pipe) Rich can only print its last frame when it stops, which
    would put an empty line or stale bars before the lines that follow."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, disable=disable or not console.is_terminal,
                    transient=transient)


class SweepProgress:
    """A Rich Progress holding the overall task first and the running model's tasks below it."""

    def __init__(self, total: int, already_done: int, console: Console, enabled: bool) -> None:
        self.progress = progress_bar(console, disable=not enabled, transient=False)
        self.overall = self.progress.add_task("models", total=total, completed=already_done)
        self.enabled = enabled

    def __enter__(self) -> SweepProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def model_bars(self, job: ModelJob) -> ProgressFactory:
        """The progress factory for one model's probes: its bars sit below the overall bar."""

        def track(items: Iterable[Any], description: str, total: int | None) -> Iterator[Any]:
            task = self.progress.add_task(f"  {job.name}: {description}", total=total)
            try:
                for item in items:
                    yield item
                    self.progress.advance(task)
            finally:
                self.progress.remove_task(task)

        return track

    def advance(self, result: JobResult) -> None:
        """One line per finished model: done ones with the bars only, failed ones always (also
        under --quiet and --json), as ``NAME: failed (SECONDS s): REASON``."""
        seconds = f"({result.seconds:.1f} s)"
        if result.status != "done":
            line = f"{escape(result.name)}: [red]failed[/] {seconds}: {escape(result.reason or 'no reason given')}"
            self.progress.console.print(line, highlight=False, soft_wrap=True)
        elif self.enabled:
            self.progress.console.print(f"{escape(result.name)}: [green]done[/] {seconds}", highlight=False)
        self.progress.advance(self.overall)


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """One row per model: name, status, seconds, device and the reason of a failure."""
    table = Table(title="robaudit sweep")
    for column, justify in (("model", "left"), ("status", "left"), ("seconds", "right"), ("device", "left"),
                            ("reason", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    colours = {"done": "green", "failed": "red", "skipped": "yellow"}
    for row in rows:
        status = row["status"] + (" (earlier run)" if row.get("resumed") else "")
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
        table.add_row(row["name"], f"[{colours[row['status']]}]{status}[/]", seconds, row["device"] or "",
                      row["reason"] or "")
    return table


def dry_run_table(jobs: list[ModelJob]) -> Table:
    """What `--dry-run` prints: the expanded models and each one's work."""
    table = Table(title=f"robaudit sweep: {len(jobs)} model(s)")
    for column in ("model", "spec", "data", "probes", "n_images"):
        table.add_column(column)
    for job in jobs:
        work = job.work()
        images = ", ".join(f"{p}={n if n is not None else 'default'}" for p, n in work["n_images"].items())
        table.add_row(job.name, job.spec, work["data"], ", ".join(work["probes"]), images)
    return table
