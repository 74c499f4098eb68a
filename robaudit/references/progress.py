"""A rich progress bar per epoch showing loss, accuracy and the regularizer's share of the loss."""

from __future__ import annotations

from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class EpochProgress:
    """Context manager; ``update(step, sums, alpha)``, sums = [task·n, reg·n, correct, n, steps]."""

    def __init__(self, epoch: int, epochs: int, steps: int, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            disable=quiet,
            transient=True,
        )
        self.task = self.progress.add_task("train", total=steps, epoch=f"{epoch + 1}/{epochs}", stats="")

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
        self.progress.update(self.task, completed=step, stats=stats)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.__exit__(kind, exc, tb)
