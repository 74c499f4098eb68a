"""The probe template: what every probe shares, so a probe's own code is its maths only.

A probe subclasses :class:`Probe`, declares ``Settings`` (a dataclass of ``config.setting``
fields) and ``Metrics`` (the pydantic model of its report section) and implements ``run``. The
final ``__call__`` owns seeding, timing and validating the metrics against ``Metrics`` (as
foolbox's attack base owns the bookkeeping and torchmetrics' Metric the reduction).
Everything that touches the model goes through :class:`ProbeContext`, including the shared grid
evaluation :meth:`ProbeContext.evaluate_grid` (one cached unit per grid cell).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar, final

import numpy as np
import pydantic
import torch
from torch import Tensor

from robaudit.data.base import ImageSet
from robaudit.devices import takes_channels_last
from robaudit.errors import RobauditError, describe_exception, one_line
from robaudit.models.wrapper import AuditedModel
from robaudit.probes.cache import ResultCache, Unit, sum_units
from robaudit.registry import Registry
from robaudit.report_model import Section
from robaudit.seeding import seeded_generator

T = TypeVar("T")

__all__ = ["PROBES", "GridCell", "Probe", "ProbeContext", "ProbeOutputError", "ProbeResult",
           "ResultCache", "Unit", "sum_units"]


@dataclass
class ProbeResult:
    """One probe's outcome. ``metrics`` becomes report['probes'][probe] (JSON-able, checked
    against the probe's ``Metrics``); ``arrays`` are saved beside the report as ``<probe>.npz``."""

    probe: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0  # compute time, kept from the run that computed it when the cache serves it
    rerun_seconds: float | None = None  # this run's time when the cache served (part of) the probe


class ProbeOutputError(RuntimeError):
    """A probe wrote metrics its own ``Metrics`` model refuses: a bug in robaudit, not bad input."""


@dataclass(frozen=True)
class GridCell:
    """One cell of a grid evaluation: ``key`` names its cached unit, ``params`` is whatever the
    transform needs (a noise level, a (frequency, sign) pair, a (corruption, severity) pair...)."""

    key: str
    params: Any = None


GridTransform = Callable[[Tensor, GridCell, int], Tensor]
"""transform(x (n, C, H, W) on the device, cell, start) → (k, n, C, H, W): k variants of the
n images ``indices[start : start + n]`` (k = 1 for a simple cell)."""

ProgressFactory = Callable[[Iterable[Any], str, int | None], Iterator[Any]]

# Transformed images held at once per chunk: small on the CPU (FFTs and mask products then stay
# in cache, about 5× faster than one large chunk for 32×32 images), large on a GPU.
CHUNK_BYTES = {"cpu": 16 * 2**20, "cuda": 512 * 2**20}
ORDER_CHECK_IMAGES = 2
"""Images of the first inference batch also classified in the default memory order, to check that
the model gives the same logits in channels-last order (ProbeContext._forward)."""


def _no_progress(items: Iterable[Any], description: str, total: int | None) -> Iterator[Any]:
    return iter(items)


@dataclass
class ProbeContext:
    """What a probe may use: the model and data, device, seed, batch size, progress and cache."""

    model: AuditedModel
    data: ImageSet
    device: torch.device
    seed: int = 0
    batch_size: int = 256
    cache: ResultCache = field(default_factory=lambda: ResultCache(None, {}))
    progress: ProgressFactory = _no_progress
    channels_last: bool | None = None  # whether inference batches go in channels-last order (None: not tried yet)

    def generator(self, *tags: object) -> torch.Generator:
        """A CPU generator seeded by (seed, tags): the same tags give the same stream every run."""
        return seeded_generator(self.seed, *tags)

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        """Iterate with a progress bar (none when quiet)."""
        return self.progress(items, description, total)

    @torch.no_grad()
    def predict_logits(self, x: Tensor) -> Tensor:
        """Logits (N, K) for x (N, C, H, W) in [0, 1], in batches of ``batch_size`` on the device."""
        outputs = [self._forward(chunk.to(self.device, non_blocking=True)) for chunk in x.split(self.batch_size)]
        logits = torch.cat(outputs).float()
        finite = torch.isfinite(logits).all(dim=-1)
        if not bool(finite.all()):  # a verdict from NaN logits would be noise (argmax picks the NaN)
            spec = getattr(getattr(self.model, "info", None), "spec", "the model")
            raise RobauditError(f"{spec} gives NaN or infinite logits for {int((~finite).sum())} of {len(logits)} "
                                "images a probe made from the data (it was finite on clean images); no probe can "
                                "judge it — check its forward pass on inputs between the pixel levels")
        return logits

    def _forward(self, x: Tensor) -> Tensor:
        """The model on x (N, C, H, W) in channels-last memory order where it takes that order, else
        in the default order; decided on the first batch, whose first ORDER_CHECK_IMAGES images are
        also classified in the default order to compare (:func:`devices.takes_channels_last`).
        Convolutions run faster so: inference took 0.51×, 0.90× and 0.77× the time on the
        embedded CNN, a CIFAR ResNet18 and a ResNet-50 at 224 px on 2 CPU threads (a ViT-B/16
        1.02×). The logits equal the default order's to float rounding."""
        if x.dim() != 4:
            return self.model(x)
        if self.channels_last is None:
            try:
                out = self.model(x.contiguous(memory_format=torch.channels_last))
            except RuntimeError:  # e.g. a model that views its input as (N, C·H·W)
                self.channels_last = False
            else:
                head = slice(0, ORDER_CHECK_IMAGES)
                self.channels_last = takes_channels_last(self.model, x[head], out[head])
                if self.channels_last:
                    return out
        if self.channels_last:
            return self.model(x.contiguous(memory_format=torch.channels_last))
        return self.model(x.contiguous())

    def chunk_images(self, variants: int, image_bytes: int) -> int:
        """Images per chunk for a transform that makes ``variants`` images of ``image_bytes`` each
        from every image: the device's byte budget, at least one model batch of variants, at most
        ``batch_size`` images, so memory follows the batch size and never the number of images."""
        budget = CHUNK_BYTES.get(self.device.type, CHUNK_BYTES["cuda"])
        one_batch = -(-self.batch_size // variants)
        return max(1, min(self.batch_size, max(budget // (variants * image_bytes), one_batch)))

    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """Images (n, C, H, W) in [0, 1] and labels (n,), moved to the device."""
        x, y = self.data.load(indices)
        return x.to(self.device), y.to(self.device)

    def evaluate_grid(self, cells: Sequence[GridCell], indices: Tensor, transform: GridTransform,
                      description: str = "grid", chunk: int | None = None) -> dict[str, np.ndarray]:
        """Correct-prediction counts per grid cell: ``{cell.key: (k,) int64}`` out of len(indices).

        Per cell, the images ``indices`` are loaded ``chunk`` at a time (default: the batch size),
        transformed into k variants (k, n, C, H, W) and classified in model batches of at most
        ``batch_size``. Each cell is one cached unit named ``cell.key``, so a killed run resumes
        at the first cell not finished.
        """
        step = max(1, chunk if chunk is not None else self.batch_size)
        counts = {}
        for cell in self.track(cells, description, len(cells)):
            unit = self.cache.get_or_compute(cell.key, partial(self._count_cell, cell, indices, transform, step))
            counts[cell.key] = np.asarray(unit["correct"], dtype=np.int64)
        return counts

    def _count_cell(self, cell: GridCell, indices: Tensor, transform: GridTransform, chunk: int) -> Unit:
        correct: Tensor | None = None
        for start in range(0, len(indices), chunk):
            x, y = self.load(indices[start : start + chunk])
            variants = transform(x, cell, start)
            k, n = variants.shape[:2]
            if n != len(y):
                raise ValueError(f"grid transform returned {n} images for a chunk of {len(y)}")
            top = self.predict_logits(variants.flatten(0, 1)).argmax(-1).view(k, n)
            hits = (top == y).sum(1).cpu()
            correct = hits if correct is None else correct + hits
        if correct is None:
            correct = torch.zeros(1, dtype=torch.long)
        return {"correct": correct.numpy().astype(np.int64), "total": len(indices)}


class Probe(ABC):
    """Base of all probes. Subclasses set ``name``, ``Settings`` and ``Metrics`` and implement
    ``run``; ``plot``, ``markdown`` and ``summary_rows`` delegate to the probe's render module."""

    name: ClassVar[str]
    renderer: ClassVar[Any] = None  # the probe's render module: plot(), markdown(), summary_rows()
    Settings: ClassVar[type]
    Metrics: ClassVar[type[Section]]

    def __init__(self, settings: Any | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()

    def settings_json(self) -> dict[str, Any]:
        return asdict(self.settings)

    @final
    def __call__(self, ctx: ProbeContext) -> ProbeResult:
        """Run the probe: torch seeded with ``ctx.seed``, timed, metrics checked against Metrics."""
        torch.manual_seed(ctx.seed)
        start = time.perf_counter()
        try:
            result = self.run(ctx)
        except (MemoryError, RuntimeError) as exc:
            if not out_of_memory(exc):
                raise
            raise RobauditError(self._out_of_memory_message(ctx, exc)) from None
        result.seconds, result.rerun_seconds = ctx.cache.settle_seconds(time.perf_counter() - start)
        self.validate(result.metrics)
        return result

    def _out_of_memory_message(self, ctx: ProbeContext, exc: BaseException) -> str:
        """One line: what ran out, and the smaller batch size to rerun with."""
        also = ""
        if hasattr(self.settings, "batch_size"):  # a probe that batches its own work (attacks)
            own = self.settings.batch_size
            also = f" and a smaller {self.name}.batch_size" + (f" than {own}" if own else "") + " (--set)"
        return (f"probe {self.name} ran out of memory on {ctx.device} with batches of up to {ctx.batch_size} "
                f"images ({one_line(exc)[:120]}); rerun with a smaller --batch-size, e.g. "
                f"--batch-size {max(1, ctx.batch_size // 4)}{also}")

    @classmethod
    def validate(cls, metrics: dict[str, Any]) -> None:
        """Raise :class:`ProbeOutputError` if ``metrics`` does not follow ``Metrics``."""
        try:
            cls.Metrics.model_validate(metrics)
        except pydantic.ValidationError as exc:
            raise ProbeOutputError(f"probe {cls.name} wrote metrics its report model refuses: "
                                   f"{describe_exception(exc)}") from exc

    def check_inputs(self, model: AuditedModel, data: ImageSet, seed: int) -> None:
        """Refuse, before any probe runs, inputs this probe cannot judge (RobauditError)."""
        return None  # the default accepts everything

    @abstractmethod
    def run(self, ctx: ProbeContext) -> ProbeResult:
        """Measure the probe's metrics on ``ctx.model`` and ``ctx.data`` (the maths only)."""

    def plot(self, result: ProbeResult, out_dir: Path) -> list[Path]:
        """Write the probe's PNG figures into ``out_dir``; return their paths."""
        return list(self.renderer.plot(result, out_dir)) if self.renderer else []

    def markdown(self, result: ProbeResult, plots: list[Path]) -> str:
        """The probe's section of report.md."""
        return str(self.renderer.markdown(result, plots)) if self.renderer else ""

    def summary_rows(self, result: ProbeResult) -> list[tuple[str, str]]:
        """(metric, value) rows for the terminal summary table."""
        return list(self.renderer.summary_rows(result)) if self.renderer else []


PROBES: Registry[type[Probe]] = Registry("probe")


def out_of_memory(exc: BaseException) -> bool:
    """Is ``exc`` an allocation failure (CUDA, MPS or CPU allocator, or Python's MemoryError)?"""
    if isinstance(exc, MemoryError | torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "not enough memory" in text)
