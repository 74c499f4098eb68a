"""The report card: report.json (schema'd), report.md, PNG plots and per-probe arrays.

Files are first written into a staging folder inside ``out`` and moved into place only when all
of them exist, so a run that fails never leaves a half-written or overwritten report behind.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from robaudit.data.base import ImageSet
from robaudit.models.wrapper import AuditedModel

if TYPE_CHECKING:
    from robaudit.probes.base import Probe, ProbeResult
    from robaudit.suite import SuiteConfig

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report.schema.json"
TRACKED_PACKAGES = ("robaudit", "torch", "torchvision", "timm", "foolbox", "robustbench", "numpy")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_description(device: torch.device) -> dict[str, Any]:
    described: dict[str, Any] = {"type": device.type, "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        described["name"] = torch.cuda.get_device_name(device)
    else:
        described["name"] = platform.processor() or platform.machine()
    return described


def build_report(config: SuiteConfig, model: AuditedModel, data: ImageSet, results: list[ProbeResult],
                 timings: dict[str, Any], cache_stats: dict[str, int]) -> dict[str, Any]:
    """Assemble the JSON report (see robaudit/schema/report.schema.json)."""
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


def validate_report(report: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if ``report`` does not follow the published schema."""
    import jsonschema

    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))


def write_report_card(report: dict[str, Any], results: list[ProbeResult], probes: list[Probe], out: Path) -> None:
    """Write report.json, report.md, plots and ``<probe>.npz`` arrays into ``out`` atomically."""
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    sections, plot_files, array_files = [], [], []
    for probe, result in zip(probes, results, strict=True):
        plots = probe.plot(result, staging)
        plot_files += [p.name for p in plots]
        sections.append(probe.markdown(result, plots))
        if result.arrays:
            np.savez_compressed(staging / f"{result.probe}.npz", **result.arrays)  # type: ignore[arg-type]
            array_files.append(f"{result.probe}.npz")
    report["files"] = {"json": "report.json", "markdown": "report.md", "plots": plot_files, "arrays": array_files}
    validate_report(report)
    (staging / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    (staging / "report.md").write_text(render_markdown(report, sections))
    for item in staging.iterdir():
        item.replace(out / item.name)
    staging.rmdir()


def render_markdown(report: dict[str, Any], sections: list[str]) -> str:
    """report.md: a header with model, data and provenance, then one section per probe."""
    model, data, prov = report["model"], report["data"], report["provenance"]
    timings = prov["timings"]
    lines = [
        f"# robaudit report card: `{model['spec']}`", "",
        "| | |", "|---|---|",
        f"| model | `{model['spec']}` ({model['parameters']:,} parameters, input {tuple(model['input_size'])}, "
        f"{model['num_classes']} classes) |",
        f"| weights sha256 | `{model['weights_sha256'][:16]}…` |",
        f"| data | `{data['spec']}` split {data['split']}, {data['num_images']} images, "
        f"sha256 `{data['sha256'][:16]}…` |",
        f"| seed | {prov['seed']} |",
        f"| device | {prov['device']['type']} ({prov['device']['name']}) |",
        f"| robaudit / torch | {prov['versions']['robaudit']} / {prov['versions']['torch']} |",
        f"| time | {timings['total_seconds']:.1f} s total, "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings["probes"].items()) + " |",
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
        lines.append(f"| `{rule['metric']}` | {rule['value']} | {rule['rule']} | {verdict} |")
    return "\n".join(lines)
