"""Run the audit suite: load model and data, run the probes, write the report card."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robaudit import report as report_mod
from robaudit.data import DEFAULT_DATASET, ImageSet, check_compatible, load_dataset
from robaudit.errors import RobauditError
from robaudit.models import DEFAULT_MODEL, AuditedModel, load_model
from robaudit.models.wrapper import resolve_device
from robaudit.probes import PROBES, Probe, ProbeContext, ProbeResult, ResultCache
from robaudit.probes.base import ProgressFactory, _no_progress
from robaudit.registry import suggest


@dataclass
class SuiteConfig:
    """Everything `robaudit score` takes. ``probe_options`` maps probe name → Settings fields."""

    model: str = DEFAULT_MODEL
    data: str = DEFAULT_DATASET
    probes: list[str] | None = None  # None: every registered probe
    out: Path = Path("robaudit-report")
    seed: int = 0
    device: str = "auto"
    batch_size: int = 256
    split: str = "test"
    data_dir: Path | None = None
    download: bool = False
    weights: str | None = None
    model_dir: Path | None = None
    probe_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: bool = True
    command: str | None = None  # the command line, recorded in the report


def probe_name(name: str) -> str:
    """Normalise a user-typed probe name ('adversarial-spectrum' → 'adversarial_spectrum')."""
    return name.strip().replace("-", "_")


def build_probes(config: SuiteConfig) -> list[Probe]:
    """Instantiate the requested probes with their settings; unknown names/fields raise."""
    names = [probe_name(n) for n in (config.probes or PROBES.names())]
    for given in config.probe_options:
        if given not in PROBES:
            raise RobauditError(f"options given for unknown probe {given!r}.{suggest(given, PROBES.names())}")
    probes = []
    for name in names:
        cls = PROBES.get(name)
        options = config.probe_options.get(name, {})
        valid = {f.name for f in dataclasses.fields(cls.Settings)}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise RobauditError(
                f"probe {name} has no setting {unknown[0]!r}.{suggest(unknown[0], sorted(valid))} "
                f"Valid: {', '.join(sorted(valid))}."
            )
        probes.append(cls(cls.Settings(**options)))
    return probes


def prepare(config: SuiteConfig) -> tuple[AuditedModel, ImageSet, list[Probe], float]:
    """Load and check everything before any probe work starts; returns load seconds too."""
    start = time.perf_counter()
    probes = build_probes(config)
    device = resolve_device(config.device)
    model = load_model(config.model, device=device, weights=config.weights, model_dir=config.model_dir)
    data = load_dataset(config.data, split=config.split, data_dir=config.data_dir,
                        download=config.download, model_info=model.info)
    check_compatible(model.info, data.info)
    return model, data, probes, time.perf_counter() - start


def run_probe(probe: Probe, model: AuditedModel, data: ImageSet, config: SuiteConfig,
              progress: ProgressFactory) -> tuple[ProbeResult, ResultCache]:
    """Run one probe with a cache keyed by model weights, data identity, settings and seed."""
    namespace = {"model": model.info.weights_sha256, "data": data.info.sha256, "probe": probe.name,
                 "settings": probe.settings_json(), "seed": config.seed, "batch_size": config.batch_size,
                 "device": model.device.type}
    cache_dir = config.out / ".robaudit-cache" / probe.name if config.cache else None
    cache = ResultCache(cache_dir, namespace)
    ctx = ProbeContext(model=model, data=data, device=model.device, seed=config.seed,
                       batch_size=config.batch_size, cache=cache, progress=progress)
    return probe(ctx), cache  # the probe template seeds, times and validates


def run_suite(
    config: SuiteConfig,
    progress: ProgressFactory = _no_progress,
    on_probe_done: Callable[[ProbeResult], None] | None = None,
) -> dict[str, Any]:
    """Run the suite and write report.json, report.md, plots and arrays into ``config.out``.

    Returns the report dict. Partial results live in ``out/.robaudit-cache`` as they are
    computed; the report files are only replaced once every probe has finished.
    """
    suite_start = time.perf_counter()
    model, data, probes, load_seconds = prepare(config)
    results, caches = [], []
    for probe in probes:
        result, cache = run_probe(probe, model, data, config, progress)
        results.append(result)
        caches.append(cache)
        if on_probe_done:
            on_probe_done(result)
    timings = {"load_seconds": load_seconds, "total_seconds": time.perf_counter() - suite_start,
               "probes": {r.probe: r.seconds for r in results}}
    cache_stats = {"hits": sum(c.hits for c in caches), "misses": sum(c.misses for c in caches)}
    report = report_mod.build_report(config, model, data, results, timings, cache_stats)
    report_mod.write_report_card(report, results, probes, config.out)
    return report
