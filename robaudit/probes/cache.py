"""Per-unit result caching: a killed run restarted with the same arguments resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from robaudit.atomic import atomic_write_with

Unit = dict[str, Any]  # a cached unit of work: numpy arrays and JSON-able values
SECONDS_KEY = "__seconds__"  # a unit file's compute time, stripped from the unit when loaded
PROBE_TIME_UNIT = "__probe_seconds__"  # the file holding a finished probe's compute time


class ResultCache:
    """Saves units of work as ``<dir>/<key>.npz`` the moment they are computed (atomic writes).

    Keys hash the namespace (model weights, data identity, probe, settings, seed...) and the unit
    name, so a killed run restarted with the same arguments picks up where it stopped. Each unit
    keeps the seconds it took to compute, and :meth:`settle_seconds` keeps a finished probe's
    compute time, so a rerun served from the cache reports the original time beside its own.
    """

    def __init__(self, directory: Path | None, namespace: dict[str, Any]) -> None:
        self.directory = directory
        self.namespace = json.dumps(namespace, sort_keys=True, default=str)
        self.hits = 0
        self.misses = 0
        self.saved_seconds = 0.0  # compute time of the units loaded instead of computed

    def path(self, unit: str) -> Path | None:
        if self.directory is None:
            return None
        key = hashlib.sha256(f"{self.namespace}|{unit}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.npz"

    def get_or_compute(self, unit: str, compute: Callable[[], Unit]) -> Unit:
        """The unit named ``unit``: loaded when saved earlier, else computed and saved."""
        path = self.path(unit)
        if path is not None and path.exists():
            try:
                loaded = _load_unit(path)
                self.hits += 1
                self.saved_seconds += float(loaded.pop(SECONDS_KEY, 0.0))
                return loaded
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)  # an unreadable file: recompute
        start = time.perf_counter()
        value = compute()
        self.misses += 1
        if path is not None:
            _save_unit(path, {**value, SECONDS_KEY: time.perf_counter() - start})
        return value

    def settle_seconds(self, wall: float) -> tuple[float, float | None]:
        """(compute seconds, this run's seconds or None) for a probe that took ``wall`` s now.

        With no cache hit the probe computed everything: its time is ``wall``, recorded for
        later runs. With hits, the compute time is the one recorded when the probe first
        finished (else ``wall`` plus the saved units' compute time) and ``wall`` is the rerun's."""
        path = self.path(PROBE_TIME_UNIT)
        if self.hits == 0:
            if path is not None:
                _save_unit(path, {"seconds": wall})
            return wall, None
        recorded = None
        if path is not None and path.exists():
            try:
                recorded = float(_load_unit(path)["seconds"])
            except (OSError, ValueError, KeyError, TypeError):
                recorded = None
        compute = recorded if recorded is not None else wall + self.saved_seconds
        if recorded is None and path is not None:
            _save_unit(path, {"seconds": compute})
        return compute, wall


def _save_unit(path: Path, unit: Unit) -> None:
    arrays = {k: np.asarray(v) for k, v in unit.items() if isinstance(v, np.ndarray | Tensor)}
    scalars = {k: v for k, v in unit.items() if k not in arrays}
    payload = {"__json__": np.array(json.dumps(scalars)), **arrays}
    atomic_write_with(path, lambda handle: np.savez(handle, **payload))  # type: ignore[arg-type]


def _load_unit(path: Path) -> Unit:
    with np.load(path, allow_pickle=False) as data:
        unit: Unit = json.loads(str(data["__json__"]))
        unit.update({k: data[k] for k in data.files if k != "__json__"})
    return unit


def sum_units(units: Iterable[Unit], keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Key-wise float64 sums of cached units (counts per chunk → counts per run).

    ``keys`` selects what to sum (default: every key of the first unit)."""
    wanted = None if keys is None else list(keys)
    totals: dict[str, np.ndarray] = {}
    for unit in units:
        for key in unit if wanted is None else wanted:
            totals[key] = totals.get(key, 0) + np.asarray(unit[key], dtype=np.float64)
    return totals
