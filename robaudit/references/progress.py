"""A rich progress bar per epoch showing loss, accuracy, the regularizer's share of the loss and
the estimated time left for the whole run."""

from __future__ import annotations

from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class EpochProgress:
    """Context manager; ``update(step, sums, alpha)``, sums = [task·n, reg·n, correct, n, steps]."""

    def __init__(self, epoch: int, epochs: int, steps: int, quiet: bool, later_seconds: float | None = None) -> None:
        """``later_seconds``: estimated time of the epochs after this one (None: not known yet)."""
        self.quiet, self.later_seconds, self.steps = quiet, later_seconds, steps
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            TextColumn("{task.fields[overall]}"),
            disable=quiet,
            transient=True,
        )
        self.task = self.progress.add_task("train", total=steps, epoch=f"{epoch + 1}/{epochs}", stats="",
                                          overall=self._overall(None))

    def __enter__(self) -> EpochProgress:
        self.progress.__enter__()
        return self

    def update(self, step: int, sums: list[float], alpha: float) -> None:
        if self.quiet:
            return
        task, reg, acc = (v / max(sums[3], 1.0) for v in sums[:3])
        total = task + alpha * reg
        share = alpha * reg / total if total else 0.0
        stats = f"loss {total:.3f} acc {acc:.3f} reg share {share:.2f}"
        task_state = self.progress.tasks[0]
        rate = task_state.speed
        this_epoch = (self.steps - step) / rate if rate else None
        self.progress.update(self.task, completed=step, stats=stats, overall=self._overall(this_epoch))

    def _overall(self, this_epoch: float | None) -> str:
        """'run ≈ 3m05s left' once both this epoch's and the later epochs' times are estimated."""
        if self.later_seconds is None and this_epoch is None:
            return ""
        left = (self.later_seconds or 0.0) + (this_epoch or 0.0)
        minutes, seconds = divmod(int(left + 0.5), 60)
        return f"run ≈ {minutes}m{seconds:02d}s left"

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.__exit__(kind, exc, tb)
