"""Run the audit suite: load model and data, run the probes, write the report card."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robaudit import __version__
from robaudit import report as report_mod
from robaudit.data import ImageSet, check_compatible, load_dataset
from robaudit.errors import RobauditError
from robaudit.models import AuditedModel, load_model
from robaudit.models.wrapper import resolve_device
from robaudit.probes import PROBES, Probe, ProbeContext, ProbeResult, ResultCache
from robaudit.probes.base import ProgressFactory, _no_progress
from robaudit.suite_config import SuiteConfig

__all__ = ["SuiteConfig", "build_probes", "prepare", "run_probe", "run_suite", "out_lock"]


def build_probes(config: SuiteConfig) -> list[Probe]:
    """The requested probes with their validated settings, in the suite's order."""
    return [PROBES.get(name)(settings) for name, settings in config.probe_settings().items()]


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.robaudit.lock`` for the run: a second run into the same folder fails at once
    with one line instead of mixing two runs' files (released when the process ends, even on kill)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / ".robaudit.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise RobauditError(f"cannot write the report folder {out}: {exc.strerror}; choose another --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RobauditError(f"another robaudit run is writing into {out}; wait for it to finish "
                                "or choose another --out") from None
        yield
    finally:
        os.close(fd)


def prepare(config: SuiteConfig) -> tuple[AuditedModel, ImageSet, list[Probe], float]:
    """Load and check everything before any probe work starts; returns load seconds too."""
    start = time.perf_counter()
    probes = build_probes(config)
    device = resolve_device(config.device)
    model = load_model(config.model, device=device, weights=config.weights, model_dir=config.model_dir)
    data = load_dataset(config.data, split=config.split, data_dir=config.data_dir,
                        download=config.download, model_info=model.info)
    model.fill_from_dataset(data.info.image_size, data.info.num_classes)  # bare `py:` modules
    check_compatible(model.info, data.info)
    return model, data, probes, time.perf_counter() - start


def run_probe(probe: Probe, model: AuditedModel, data: ImageSet, config: SuiteConfig,
              progress: ProgressFactory) -> tuple[ProbeResult, ResultCache]:
    """Run one probe with a cache keyed by model weights, data identity, settings and seed."""
    namespace = {"robaudit": __version__, "model": model.info.weights_sha256, "data": data.info.sha256,
                 "probe": probe.name, "settings": probe.settings_json(), "seed": config.seed,
                 "batch_size": config.batch_size, "device": model.device.type}
    cache_dir = config.out / ".robaudit-cache" / probe.name if config.cache else None
    cache = ResultCache(cache_dir, namespace)
    ctx = ProbeContext(model=model, data=data, device=model.device, seed=config.seed,
                       batch_size=config.batch_size, cache=cache, progress=progress)
    return probe(ctx), cache  # the probe template seeds, times and validates


def run_suite(config: SuiteConfig, progress: ProgressFactory = _no_progress) -> dict[str, Any]:
    """Run the suite and write report.json, report.md, plots and arrays into ``config.out``.

    Returns the report dict. Partial results live in ``out/.robaudit-cache`` as they are
    computed; the report files are only replaced once every probe has finished.
    """
    with out_lock(config.out):
        suite_start = time.perf_counter()
        model, data, probes, load_seconds = prepare(config)
        results, caches = [], []
        for probe in probes:
            result, cache = run_probe(probe, model, data, config, progress)
            results.append(result)
            caches.append(cache)
        timings = {"load_seconds": load_seconds, "total_seconds": time.perf_counter() - suite_start,
                   "probes": {r.probe: r.seconds for r in results}}
        cache_stats = {"hits": sum(c.hits for c in caches), "misses": sum(c.misses for c in caches)}
        report = report_mod.build_report(config, model, data, results, timings, cache_stats)
        report_mod.write_report_card(report, results, probes, config.out)
    return report
