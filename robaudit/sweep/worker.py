"""Run one model of a sweep: the same report card `score` writes, with failures recorded, not raised."""

from __future__ import annotations

import dataclasses
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from robaudit.corruptions.memo import sharing
from robaudit.errors import RobauditError, describe_exception, one_line
from robaudit.probes.base import ProgressFactory, _no_progress
from robaudit.suite import SuiteConfig, run_suite
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.shared import MEMO, enter_sweep, shared_dataset

CACHE_FOLDER = ".robaudit-cache"


@dataclass
class JobResult:
    """How one model went. ``status``: done | failed; ``reason``: one line when failed."""

    name: str
    spec: str
    status: str
    reason: str | None
    seconds: float
    device: str
    fingerprint: str


def device_label(config: SuiteConfig) -> str:
    """'cpu (x86_64)' or 'cuda (NVIDIA H200)': the device the model ran on."""
    try:
        from robaudit.models.wrapper import resolve_device

        device = resolve_device(config.device)
    except RobauditError:
        return config.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    return f"{device.type} ({name})"


def run_model(job: ModelJob, progress: ProgressFactory = _no_progress) -> JobResult:
    """Run ``job`` into ``job.config.out``; any exception becomes a failed result with one line."""
    start = time.perf_counter()
    status, reason = "done", None
    enter_sweep(job.sweep)
    try:
        with sharing(MEMO):
            run_suite(job.config, progress, datasets=shared_dataset)
    except RobauditError as exc:
        status, reason = "failed", one_line(exc)
    except Exception as exc:  # load errors, forward-pass errors, NaN logits, out of memory
        status, reason = "failed", describe_exception(exc)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return JobResult(job.name, job.spec, status, reason, time.perf_counter() - start,
                     device_label(job.config), job.fingerprint)


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (report card, arrays, figures, caches), by relative path."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write what :func:`read_files` returned into ``folder`` (atomically, file by file)."""
    from robaudit.atomic import atomic_write_bytes

    root = folder.resolve()
    for relative, data in files.items():
        target = (root / relative).resolve()
        if root not in target.parents:
            raise RobauditError(f"refusing to write {relative} outside {root}")
        atomic_write_bytes(target, data)


def run_model_elsewhere(job: ModelJob, cache: dict[str, bytes]) -> tuple[JobResult, dict[str, bytes]]:
    """Run ``job`` in a temporary folder (a worker with no filesystem shared with the driver).

    ``cache`` holds the model's earlier partial results (its .robaudit-cache files), so a
    retried or resumed model picks up where it stopped. Returns the result and every file the
    run wrote, for the driver to write into the sweep's folder.
    """
    with tempfile.TemporaryDirectory(prefix="robaudit-sweep-") as tmp:
        folder = Path(tmp) / job.name
        write_files(folder, cache)
        moved = dataclasses.replace(job, config=dataclasses.replace(job.config, out=folder))
        result = run_model(moved)
        return result, read_files(folder)
