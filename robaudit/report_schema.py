"""The report card's typed model and its JSON Schema, assembled from every registered probe's section.

``report_model()`` builds the pydantic model of a whole report.json (header sections below plus
one optional section per probe, from each probe's ``Metrics``); ``report_schema()`` is its JSON
Schema, published as robaudit/schema/report.schema.json and docs/report.schema.json.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, create_model

from robaudit.errors import RobauditError
from robaudit.report_model import MetricInfo, Section, metric_catalogue

SCHEMA_VERSION = "2.0"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report.schema.json"
SHA256 = r"^[0-9a-f]{64}$"


class ModelSection(Section):
    """What the report records about the model (robaudit.models.ModelInfo)."""

    spec: str
    source: str
    name: str
    input_size: list[int] = Field(min_length=3, max_length=3)
    num_classes: int = Field(ge=1)
    mean: list[float]
    std: list[float]
    class_names: list[str] | None = None
    crop_pct: float = Field(0.875, gt=0, le=1)
    interpolation: str = "bilinear"
    parameters: int = Field(ge=0)
    weights_sha256: str = Field(pattern=SHA256)
    extra: dict[str, Any] = Field(default_factory=dict)


class DataSection(Section):
    """What the report records about the dataset (robaudit.data.DatasetInfo)."""

    spec: str
    name: str
    split: str
    num_images: int = Field(ge=1)
    num_classes: int = Field(ge=1)
    image_size: list[int] = Field(min_length=3, max_length=3)
    class_names: list[str] | None = None
    sha256: str = Field(pattern=SHA256)
    source: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)


class ConfigSection(Section):
    seed: int = Field(ge=0)
    device: str
    batch_size: int = Field(ge=1)
    probes: list[str]
    probe_settings: dict[str, dict[str, Any]]


class Timings(Section):
    load_seconds: float = Field(ge=0)
    total_seconds: float = Field(ge=0, description="this run's wall-clock seconds")
    probes: dict[str, float] = Field(description="compute seconds per probe; a probe served from the cache keeps "
                                                 "the time of the run that computed it")
    probes_cached_run: dict[str, float] = Field(
        default_factory=dict, description="this run's seconds per probe served (in part) from the cache")


class Provenance(Section):
    versions: dict[str, str | None]
    device: dict[str, Any]
    seed: int = Field(ge=0)
    model_sha256: str = Field(pattern=SHA256)
    data_sha256: str = Field(pattern=SHA256)
    timings: Timings
    cache: dict[str, int]


class Files(Section):
    json_: str = Field("report.json", alias="json")
    markdown: str = "report.md"
    plots: list[str] = Field(default_factory=list)
    arrays: list[str] = Field(default_factory=list)


class PolicyRow(Section):
    metric: str
    value: float | bool | None
    rule: str
    passed: bool
    reason: str
    unit: str | None = None
    label: str | None = None


class PolicyResult(Section):
    passed: bool
    rules: list[PolicyRow]


def _probe_sections() -> dict[str, type[BaseModel]]:
    from robaudit.probes import PROBES

    return {name: PROBES.get(name).Metrics for name in PROBES.names()}


def report_model() -> type[BaseModel]:
    """The pydantic model of report.json for the probes registered now."""
    from robaudit.probes import PROBES

    return _report_model(tuple(PROBES.names()))


@functools.cache
def _report_model(probe_names: tuple[str, ...]) -> type[BaseModel]:
    probes = create_model(  # type: ignore[call-overload]
        "Probes", __base__=Section, **{name: (model | None, None) for name, model in _probe_sections().items()})
    version: Any = Literal[SCHEMA_VERSION]
    return create_model(
        "Report", __base__=Section,
        schema_version=(version, ...), created=(str, ...), command=(str | None, None),
        model=(ModelSection, ...), data=(DataSection, ...), config=(ConfigSection, ...),
        provenance=(Provenance, ...), probes=(probes, ...), flags=(dict[str, list[str]], ...),
        files=(Files, ...), policy=(PolicyResult | None, None),
    )


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json (draft 2020-12), versioned by SCHEMA_VERSION."""
    schema = report_model().model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://robaudit.dev/schema/report-{SCHEMA_VERSION}.json",
            "title": "robaudit report card",
            "description": "Output of `robaudit score`. Frequencies appear as cycles_per_pixel and "
                           "nyquist_fraction (= cpp / 0.5); metric fields carry x-unit, x-label and "
                           "x-direction. Keys are stable within a schema major version.",
            **{k: v for k, v in schema.items() if k != "title"}}


def validate_report(report: Any, source: str = "report") -> None:
    """Raise RobauditError (one line) unless ``report`` follows this version's schema."""
    if not isinstance(report, dict):
        raise RobauditError(f"{source} is not a robaudit report (not a JSON object)")
    version = report.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RobauditError(f"{source} has schema version {version!r} but this robaudit reads {SCHEMA_VERSION}; "
                            "re-run `robaudit score` with this version")
    try:
        report_model().model_validate(report)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RobauditError(f"{source} does not follow the report schema {SCHEMA_VERSION}: "
                            f"{where}: {first['msg']}") from None


def metric_infos() -> dict[str, MetricInfo]:
    """Every declared metric by its full dotted report key, e.g. 'probes.hybrid.f_rev....mean'."""
    from robaudit.probes import PROBES

    return _metric_infos(tuple(PROBES.names()))


@functools.cache
def _metric_infos(probe_names: tuple[str, ...]) -> dict[str, MetricInfo]:
    out: dict[str, MetricInfo] = {}
    for name, model in _probe_sections().items():
        for key, info in metric_catalogue(model, f"probes.{name}.").items():
            out[key] = info
    return out


def write_schema_files(root: Path) -> list[Path]:
    """Regenerate the published schema files (the package's copy and docs/ under ``root``)."""
    text = json.dumps(report_schema(), indent=2) + "\n"
    paths = [SCHEMA_PATH, root / "docs" / "report.schema.json"]
    for path in paths:
        path.write_text(text)
    return paths


if __name__ == "__main__":  # python -m robaudit.report_schema [REPO_ROOT]
    for written in write_schema_files(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written)
