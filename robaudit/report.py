"""The report card: report.json (schema'd), report.md, PNG plots and per-probe arrays.

Files are first written into a staging folder inside ``out`` and moved into place only when all
of them exist, so a run that fails never leaves a half-written or overwritten report behind.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import platform
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from robaudit.atomic import atomic_write_bytes, atomic_write_text
from robaudit.data.base import ImageSet
from robaudit.models.wrapper import AuditedModel
from robaudit.report_schema import SCHEMA_VERSION, report_model
from robaudit.versions import package_versions

if TYPE_CHECKING:
    from robaudit.probes.base import Probe, ProbeResult
    from robaudit.suite_config import SuiteConfig


def device_description(device: torch.device) -> dict[str, Any]:
    described: dict[str, Any] = {"type": device.type, "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        described["name"] = torch.cuda.get_device_name(device)
    else:
        described["name"] = platform.processor() or platform.machine()
    return described


def build_report(config: SuiteConfig, model: AuditedModel, data: ImageSet, results: list[ProbeResult],
                 timings: dict[str, Any], cache_stats: dict[str, int]) -> dict[str, Any]:
    """Assemble the JSON report (see robaudit/schema/report.schema.json). A probe served from the
    cache keeps its compute seconds in ``timings.probes``; this run's are in ``probes_cached_run``."""
    reruns = {r.probe: r.rerun_seconds for r in results if r.rerun_seconds is not None}
    timings = {**timings, "probes_cached_run": {**timings.get("probes_cached_run", {}), **reruns}}
    return {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": config.command,
        "model": model.info.to_json(),
        "data": data.info.to_json(),
        "config": {
            "seed": config.seed, "device": config.device, "batch_size": config.batch_size,
            "probes": [r.probe for r in results],
            "probe_settings": {r.probe: r.settings for r in results},
        },
        "provenance": {
            "versions": package_versions(),
            "device": device_description(model.device),
            "seed": config.seed,
            "model_sha256": model.info.weights_sha256,
            "data_sha256": data.info.sha256,
            "timings": timings,
            "cache": cache_stats,
        },
        "probes": {r.probe: r.metrics for r in results},
        "flags": {r.probe: r.flags for r in results},
        "files": {},
    }


def write_report_card(report: dict[str, Any], results: list[ProbeResult], probes: list[Probe], out: Path) -> None:
    """Write report.json, report.md, plots and ``<probe>.npz`` arrays into ``out``.

    Everything is first written into a fresh ``out/.staging-*`` folder and then moved into place file by file
    (each move is an atomic rename), so a failing run never leaves a torn or mixed report.
    Files of an earlier card that this run does not write again (e.g. a probe not run now)
    are removed, so the folder always holds exactly one run's card.
    """
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))  # a fresh, unpredictable folder
    try:
        _stage_card(report, results, probes, staging)
        _replace_card(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage_card(report: dict[str, Any], results: list[ProbeResult], probes: list[Probe], staging: Path) -> None:
    sections, plot_files, array_files = [], [], []
    for probe, result in zip(probes, results, strict=True):
        plots = probe.plot(result, staging)
        plot_files += [p.name for p in plots]
        sections.append(probe.markdown(result, plots))
        if result.arrays:
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **result.arrays)  # type: ignore[arg-type]
            atomic_write_bytes(staging / f"{result.probe}.npz", buffer.getvalue())
            array_files.append(f"{result.probe}.npz")
    report["files"] = {"json": "report.json", "markdown": "report.md", "plots": plot_files, "arrays": array_files}
    report_model().model_validate(report)  # a report that breaks its own schema is a bug
    atomic_write_text(staging / "report.json", json.dumps(report, indent=2, allow_nan=False))
    atomic_write_text(staging / "report.md", render_markdown(report, sections))


def _replace_card(staging: Path, out: Path) -> None:
    """Move the staged files into ``out`` and drop the previous card's files not written now."""
    previous = out / "report.json"
    old_files: set[str] = set()
    if previous.is_file():
        try:
            files = json.loads(previous.read_text()).get("files", {})
            old_files = set(files.get("plots", [])) | set(files.get("arrays", []))
        except (ValueError, AttributeError):
            old_files = set()
    new_files = {item.name for item in staging.iterdir()}
    for item in staging.iterdir():
        item.replace(out / item.name)
    for name in old_files - new_files:
        if "/" not in name and not name.startswith("."):
            (out / name).unlink(missing_ok=True)


def _md(text: object) -> str:
    """User-given text made safe inside Markdown inline code (no backtick breaks out)."""
    return str(text).replace("`", "ˋ").replace("\n", " ")


def _pretrained_cfg_rows(model: dict[str, Any]) -> list[str]:
    """A row naming the pretrained config that set the preprocessing (timm models), with its caveat."""
    used = model.get("extra", {}).get("pretrained_cfg")
    if not used:
        return []
    note = model["extra"].get("pretrained_cfg_note")
    return [f"| preprocessing | pretrained config `{_md(used)}`" + (f": {_md(note)}" if note else "") + " |"]


def _probe_times(timings: dict[str, Any]) -> str:
    """'hybrid 12.3 s, bandpass 4.0 s (cached: 0.2 s now)': compute time, and this run's if cached."""
    reruns = timings.get("probes_cached_run", {})
    return ", ".join(f"{k} {v:.1f} s" + (f" (cached: {reruns[k]:.1f} s now)" if k in reruns else "")
                     for k, v in timings["probes"].items())


def render_markdown(report: dict[str, Any], sections: list[str]) -> str:
    """report.md: a header with model, data and provenance, then one section per probe."""
    model, data, prov = report["model"], report["data"], report["provenance"]
    timings = prov["timings"]
    lines = [
        f"# robaudit report card: `{_md(model['spec'])}`", "",
        "| | |", "|---|---|",
        f"| model | `{_md(model['spec'])}` ({model['parameters']:,} parameters, input {tuple(model['input_size'])}, "
        f"{model['num_classes']} classes) |",
        f"| weights sha256 | `{model['weights_sha256'][:16]}…` |",
        *_pretrained_cfg_rows(model),
        f"| data | `{_md(data['spec'])}` split {_md(data['split'])}, {data['num_images']} images, "
        f"sha256 `{data['sha256'][:16]}…` |",
        f"| seed | {prov['seed']} |",
        f"| device | {prov['device']['type']} ({prov['device']['name']}) |",
        f"| robaudit / torch | {prov['versions']['robaudit']} / {prov['versions']['torch']} |",
        f"| time | {timings['total_seconds']:.1f} s total, " + _probe_times(timings) + " |",
        f"| created | {report['created']} |",
        "",
        "Frequencies are given in cycles per pixel (cpp) and as a fraction of Nyquist (cpp / 0.5).",
    ]
    for probe, flags in report["flags"].items():
        for flag in flags:
            lines.append(f"\n> **{probe}:** {flag}")
    if report.get("policy"):
        lines += ["", policy_markdown(report["policy"])]
    return "\n".join(lines) + "\n\n" + "\n\n".join(s for s in sections if s) + "\n"


def policy_markdown(policy: dict[str, Any]) -> str:
    lines = [f"## Policy: {'PASS' if policy['passed'] else 'FAIL'}", "", "| metric | value | rule | result |",
             "|---|---|---|---|"]
    for rule in policy["rules"]:
        verdict = "pass" if rule["passed"] else "FAIL"
        lines.append(f"| `{_md(rule['metric'])}` | {rule['value']} | {rule['rule']} | {verdict} |")
    return "\n".join(lines)
