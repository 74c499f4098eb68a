"""The machinery every probe shares: batching, device, seeding, progress and result caching.

A probe subclasses :class:`Probe`, declares a settings dataclass and implements ``run`` with its
own maths only (as foolbox's attack base owns the bookkeeping and subclasses implement ``run``).
Everything that touches the model goes through :class:`ProbeContext`.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import Tensor

from robaudit.data.base import ImageSet
from robaudit.models.wrapper import AuditedModel
from robaudit.registry import Registry

T = TypeVar("T")
Unit = dict[str, Any]  # a cached unit of work: numpy arrays and JSON-able values


@dataclass
class ProbeResult:
    """One probe's outcome. ``metrics`` becomes report['probes'][probe] (JSON-able);
    ``arrays`` are saved beside the report as ``<probe>.npz`` for re-analysis."""

    probe: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0


class ResultCache:
    """Saves units of work as ``<dir>/<key>.npz`` the moment they are computed (atomic writes).

    Keys hash the model weights, the data identity, the probe, its settings and the unit name,
    so a killed run restarted with the same arguments picks up where it stopped.
    """

    def __init__(self, directory: Path | None, namespace: dict[str, Any]) -> None:
        self.directory = directory
        self.namespace = json.dumps(namespace, sort_keys=True, default=str)
        self.hits = 0
        self.misses = 0

    def path(self, unit: str) -> Path | None:
        if self.directory is None:
            return None
        key = hashlib.sha256(f"{self.namespace}|{unit}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.npz"

    def get_or_compute(self, unit: str, compute: Callable[[], Unit]) -> Unit:
        path = self.path(unit)
        if path is not None and path.exists():
            try:
                loaded = _load_unit(path)
                self.hits += 1
                return loaded
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # a torn file from a killed run: recompute
        value = compute()
        self.misses += 1
        if path is not None:
            _save_unit(path, value)
        return value


def _save_unit(path: Path, unit: Unit) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in unit.items() if isinstance(v, np.ndarray | Tensor)}
    scalars = {k: v for k, v in unit.items() if k not in arrays}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, __json__=np.array(json.dumps(scalars)), **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _load_unit(path: Path) -> Unit:
    with np.load(path, allow_pickle=False) as data:
        unit: Unit = json.loads(str(data["__json__"]))
        unit.update({k: data[k] for k in data.files if k != "__json__"})
    return unit


def seeded_generator(seed: int, *tags: object) -> torch.Generator:
    """A CPU generator seeded by hashing (seed, tags): one --seed, independent named streams."""
    text = json.dumps([seed, *map(str, tags)])
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
    return torch.Generator().manual_seed(value)


ProgressFactory = Callable[[Iterable[Any], str, int | None], Iterator[Any]]


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

    def generator(self, *tags: object) -> torch.Generator:
        """A CPU generator seeded by (seed, tags): the same tags give the same stream every run."""
        return seeded_generator(self.seed, *tags)

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        """Iterate with a progress bar (none when quiet)."""
        return self.progress(items, description, total)

    @torch.no_grad()
    def predict_logits(self, x: Tensor) -> Tensor:
        """Logits (N, K) for x (N, C, H, W) in [0, 1], in batches of ``batch_size`` on the device."""
        outputs = [
            self.model(chunk.to(self.device, non_blocking=True))
            for chunk in x.split(self.batch_size)
        ]
        return torch.cat(outputs).float()

    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """Images (n, C, H, W) in [0, 1] and labels (n,), moved to the device."""
        x, y = self.data.load(indices)
        return x.to(self.device), y.to(self.device)


class Probe(ABC):
    """Base of all probes. Subclasses set ``name`` and ``Settings`` and implement ``run``."""

    name: ClassVar[str]
    Settings: ClassVar[type]

    def __init__(self, settings: Any | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()

    def settings_json(self) -> dict[str, Any]:
        return asdict(self.settings)

    @abstractmethod
    def run(self, ctx: ProbeContext) -> ProbeResult:
        """Measure the probe's metrics on ``ctx.model`` and ``ctx.data``."""

    def plot(self, result: ProbeResult, out_dir: Path) -> list[Path]:
        """Write the probe's PNG figures into ``out_dir``; return their paths."""
        return []

    def markdown(self, result: ProbeResult, plots: list[Path]) -> str:
        """The probe's section of report.md."""
        return ""

    def summary_rows(self, result: ProbeResult) -> list[tuple[str, str]]:
        """(metric, value) rows for the terminal summary table."""
        return []


PROBES: Registry[type[Probe]] = Registry("probe")
