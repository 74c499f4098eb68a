"""Run the audit suite: load model and data, run the probes, write the report card."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from robaudit import __version__
from robaudit import report as report_mod
from robaudit.atomic import out_lock
from robaudit.data import ImageSet, check_compatible, load_dataset
from robaudit.errors import RobauditError, describe_exception
from robaudit.models import AuditedModel, load_model
from robaudit.models.wrapper import resolve_device
from robaudit.probes import PROBES, Probe, ProbeContext, ProbeResult, ResultCache
from robaudit.probes.base import ProgressFactory, _no_progress
from robaudit.suite_config import SuiteConfig

__all__ = ["SuiteConfig", "build_probes", "prepare", "run_probe", "run_suite", "out_lock"]


def build_probes(config: SuiteConfig) -> list[Probe]:
    """The requested probes with their validated settings, in the suite's order."""
    return [PROBES.get(name)(settings) for name, settings in config.probe_settings().items()]


DatasetLoader = Callable[..., ImageSet]  # load_dataset's signature; a sweep passes a shared one


def prepare(config: SuiteConfig, datasets: DatasetLoader = load_dataset
            ) -> tuple[AuditedModel, ImageSet, list[Probe], float]:
    """Load and check everything before any probe work starts; returns load seconds too."""
    start = time.perf_counter()
    probes = build_probes(config)
    device = resolve_device(config.device)
    model = load_model(config.model, device=device, weights=config.weights, model_dir=config.model_dir)
    data = datasets(config.data, split=config.split, data_dir=config.data_dir,
                    download=config.download, model_info=model.info, resize=config.resize)
    model.fill_from_dataset(data.info.image_size, data.info.num_classes)  # bare `py:` modules
    check_compatible(model.info, data.info)
    check_first_batch(model, data, config.batch_size)
    for probe in probes:
        probe.check_inputs(model, data, config.seed)
    return model, data, probes, time.perf_counter() - start


def check_first_batch(model: AuditedModel, data: ImageSet, batch_size: int) -> None:
    """Refuse a model that fails, gives other than (n, classes) logits, or NaN/inf logits on the
    first batch, before any probe work."""
    x, _ = data.load(torch.arange(min(len(data), batch_size, 32)))
    try:
        with torch.no_grad():
            logits = model(x.to(model.device))
    except Exception as exc:  # noqa: BLE001 - the user's forward pass: any failure is theirs to fix
        raise RobauditError(f"{model.info.spec} fails on the first batch of {data.info.spec}: "
                            f"{describe_exception(exc)}") from None
    want = (len(x), model.info.num_classes)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != want:
        found = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise RobauditError(f"{model.info.spec} returns {found} on the first batch of {data.info.spec}, not "
                            f"logits of shape {want} (images × its {want[1]} classes); check its output layer")
    if not bool(torch.isfinite(logits).all()):
        bad = int((~torch.isfinite(logits)).any(dim=-1).sum())
        raise RobauditError(f"{model.info.spec} gives NaN or infinite logits for {bad} of the first {len(x)} "
                            "images; no probe can judge it — check the weights and the normalisation")


def run_probe(probe: Probe, model: AuditedModel, data: ImageSet, config: SuiteConfig,
              progress: ProgressFactory) -> tuple[ProbeResult, ResultCache]:
    """Run one probe with a cache keyed by the model's identity (weights, normalisation, input size
    and the code of a py: factory or TorchScript file), the data's, the settings and the seed."""
    info = model.info  # the weights, and what else decides the model's function: normalisation, code
    identity = [info.weights_sha256, list(info.mean), list(info.std), list(info.input_size),
                info.extra.get("code_sha256")]
    namespace = {"robaudit": __version__, "model": identity, "data": data.info.sha256,
                 "image_size": list(data.info.image_size), "resized": data.info.extra.get("resized"),
                 "probe": probe.name, "settings": probe.settings_json(), "seed": config.seed,
                 "batch_size": config.batch_size, "device": model.device.type}
    cache_dir = config.out / ".robaudit-cache" / probe.name if config.cache else None
    cache = ResultCache(cache_dir, namespace)
    ctx = ProbeContext(model=model, data=data, device=model.device, seed=config.seed,
                       batch_size=config.batch_size, cache=cache, progress=progress)
    return probe(ctx), cache  # the probe template seeds, times and validates


def run_suite(config: SuiteConfig, progress: ProgressFactory = _no_progress,
              datasets: DatasetLoader = load_dataset) -> dict[str, Any]:
    """Run the suite and write report.json, report.md, plots and arrays into ``config.out``.

    Returns the report dict. Partial results live in ``out/.robaudit-cache`` as they are
    computed; the report files are only replaced once every probe has finished. ``datasets``
    loads the data (a sweep passes one that loads each dataset once per process).
    """
    with out_lock(config.out):
        suite_start = time.perf_counter()
        model, data, probes, load_seconds = prepare(config, datasets)
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
