"""Probe timings across cached reruns: the compute time of the run that did the work is kept, and
the rerun's own time is added beside it (not written over it)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from robaudit.cli import main
from robaudit.probes import cache as cache_module
from robaudit.probes.cache import ResultCache
from robaudit.report_schema import validate_report

FAST = ["--probes", "hybrid", "--n-images", "40", "--hybrid-seeds", "2", "--hybrid-grid", "uniform:6", "-q"]


def test_a_cached_rerun_keeps_the_first_runs_compute_time(tmp_path: Path, tiny_model: str) -> None:
    out = tmp_path / "card"
    assert main(["score", "-m", tiny_model, "-o", str(out), *FAST]) == 0
    first = json.loads((out / "report.json").read_text())
    assert main(["score", "-m", tiny_model, "-o", str(out), *FAST]) == 0
    second = json.loads((out / "report.json").read_text())
    validate_report(second)
    assert second["provenance"]["cache"]["misses"] == 0  # the rerun computed nothing
    assert second["provenance"]["timings"]["probes"] == first["provenance"]["timings"]["probes"]
    assert first["provenance"]["timings"]["probes_cached_run"] == {}
    assert set(second["provenance"]["timings"]["probes_cached_run"]) == {"hybrid"}
    assert "(cached: " in (out / "report.md").read_text()


class FakeClock:
    """perf_counter that advances only when told: unit compute times without timing anything."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def unit(self, seconds: float) -> dict[str, np.ndarray]:
        self.now += seconds
        return {"correct": np.array([1])}


def test_a_resumed_probe_counts_the_compute_time_of_the_units_it_loaded(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(perf_counter=clock))
    killed = ResultCache(tmp_path, {"probe": "p"})  # computes two units, then is killed before settling
    killed.get_or_compute("a", lambda: clock.unit(2.0))
    killed.get_or_compute("b", lambda: clock.unit(3.0))
    resumed = ResultCache(tmp_path, {"probe": "p"})
    assert set(resumed.get_or_compute("a", lambda: clock.unit(9.0))) == {"correct"}  # no timing key leaks
    resumed.get_or_compute("b", lambda: clock.unit(9.0))
    resumed.get_or_compute("c", lambda: clock.unit(4.0))
    assert resumed.settle_seconds(4.5) == (4.5 + 2.0 + 3.0, 4.5)
    rerun = ResultCache(tmp_path, {"probe": "p"})
    for key in "abc":
        rerun.get_or_compute(key, lambda: clock.unit(9.0))
    assert rerun.settle_seconds(0.2) == (9.5, 0.2)  # the recorded compute time, not 0.2 + 9
