"""The one timing helper of the benchmarks: interleaved sides, median of per-pair ratios.

Every benchmark compares sides (the probe and plain inference of the same images, robaudit and a
reference library...) measured in one run. The sides run one after the other within a round,
the order rotating from round to round, after warm-up rounds that are not recorded. Each side's
wall time (``time.perf_counter``, CUDA synchronised) and CPU time (``time.process_time`` of this
process, all threads, plus the CPU time of finished child processes from
``resource.getrusage(RUSAGE_CHILDREN)``) is recorded per round, and a ratio is the MEDIAN OF
PER-ROUND RATIOS: a burst of background load hits both sides of one round alike and moves one
ratio out of several, so the figure does not move 2× with the load. A side much shorter than
the other may run several times back to back within its round (``runs``); its sample is then
the block's time divided by the runs, so it spans more seconds and one burst moves it less.

    from timing import interleave
    timings = interleave({"probe": run_probe, "plain": run_plain}, repeats=5, warmup=1)
    print(timings.line("probe", "plain", target=1.15))
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Sample:
    """One side's times in one round, in seconds."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _synchronise(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(work: Callable[[], object], device: torch.device | None = None, runs: int = 1) -> Sample:
    """Wall and CPU seconds of one ``work()`` (CPU: this process's threads and its reaped
    children): the time of ``runs`` calls back to back, divided by ``runs``."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    _synchronise(device)
    cpu, children, wall = time.process_time(), _children_cpu(), time.perf_counter()
    for _ in range(runs):
        work()
    _synchronise(device)
    return Sample((time.perf_counter() - wall) / runs,
                  (time.process_time() - cpu + _children_cpu() - children) / runs)


@dataclass
class Timings:
    """Per side, one :class:`Sample` per recorded round (rounds aligned across sides)."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    per_item: dict[str, float] = field(default_factory=dict)  # items each side processes per round

    def median(self, side: str, clock: str = "wall") -> float:
        """Median seconds of ``side`` per round on ``clock`` ('wall' or 'cpu')."""
        return statistics.median(getattr(s, clock) for s in self.samples[side])

    def ratio(self, side: str, baseline: str, clock: str = "wall") -> float:
        """Median over rounds of (side's time / baseline's time), each per item."""
        scale = self.per_item.get(baseline, 1.0) / self.per_item.get(side, 1.0)
        pairs = zip(self.samples[side], self.samples[baseline], strict=True)
        return statistics.median(getattr(a, clock) / max(getattr(b, clock), 1e-12) * scale for a, b in pairs)

    def ratios(self, side: str, baseline: str) -> tuple[float, float]:
        """(CPU ratio, wall ratio): medians of per-round ratios."""
        return self.ratio(side, baseline, "cpu"), self.ratio(side, baseline, "wall")

    def line(self, side: str, baseline: str, target: float | None = None, label: str = "") -> str:
        """One printable line: both medians and both ratios, with the target when given."""
        cpu, wall = self.ratios(side, baseline)
        rounds = len(self.samples[side])
        goal = f"; target ≤ {target}" if target is not None else ""
        ok = "" if target is None else _verdict(cpu, wall, target)
        return (f"{label or side + ' / ' + baseline}: CPU {cpu:.3f}, wall {wall:.3f} "
                f"(median of {rounds} interleaved pairs; {side} {self.median(side):.2f} s wall, "
                f"{baseline} {self.median(baseline):.2f} s wall{goal}){ok}")


def _verdict(cpu: float, wall: float, target: float) -> str:
    """OK when both clocks meet the target; under background load the CPU ratio is the steadier."""
    if max(cpu, wall) <= target:
        return "  OK"
    return "  OK on CPU (wall above: background load?)" if cpu <= target else "  MISSED"


def interleave(sides: Mapping[str, Callable[[], object]], repeats: int = 5, warmup: int = 1,
               device: torch.device | None = None, per_item: Mapping[str, float] | None = None,
               runs: Mapping[str, int] | None = None) -> Timings:
    """Run every side once per round, ``warmup`` rounds unrecorded then ``repeats`` recorded;
    the order rotates by one side each round. ``per_item`` (items per round of a side) makes
    ratios per item when the sides process different numbers of images. ``runs`` (side → k):
    that side runs k times back to back per round, its sample the time per run (default 1)."""
    names = list(sides)
    runs_of = {name: (runs or {}).get(name, 1) for name in names}
    timings = Timings({name: [] for name in names}, dict(per_item or {}))
    for round_ in range(warmup + repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            sample = measure(sides[name], device, runs_of[name])
            if round_ >= warmup:
                timings.samples[name].append(sample)
    return timings
