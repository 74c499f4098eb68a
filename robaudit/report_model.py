"""The typed report model: each probe section is a pydantic model whose metrics declare their metadata.

A metric field is declared with :func:`metric` (unit, label, direction, bounds); any other field
is plain data (curves, grids, settings echoes). From these models come the JSON Schema (unknown
keys and out-of-range values are refused), ``check``'s view of what a metric means, the Markdown
card's labels and the leaderboard's columns and sort orders.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["higher", "lower"]
# Units a metric can carry; docs/metrics.md defines each.
UNITS = ("cycles_per_pixel", "nyquist_fraction", "fraction", "count", "seconds", "linf", "l2",
         "perturbation", "linf_255", "bool", "ratio", "pixels")


class Section(BaseModel):
    """Base of every report section: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


def metric(default: Any = ..., *, unit: str, label: str, direction: Direction | None = None,
           ge: float | None = None, le: float | None = None, column: str | None = None) -> Any:
    """A metric field: ``unit`` (see UNITS), a human ``label``, which ``direction`` is better
    (None: neither, e.g. a frequency whose meaning depends on the question), optional bounds and
    ``column``: the leaderboard column key that shows it (a probe declaring none gets a column
    for every numeric metric)."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; add it to UNITS and docs/metrics.md")
    extra = {"x-unit": unit, "x-label": label, "x-direction": direction}
    if column is not None:
        extra["x-column"] = column
    return Field(default, ge=ge, le=le, description=label, json_schema_extra=extra)  # type: ignore[arg-type]


def upper_bound(value: float) -> float:
    """``value`` rounded up to 4 decimals: a schema bound (``le``) that admits ``value`` itself."""
    return math.ceil(value * 1e4) / 1e4


@dataclass(frozen=True)
class MetricInfo:
    """One metric's dotted key (relative to its section), unit, label and direction."""

    key: str
    unit: str
    label: str
    direction: Direction | None
    column: str | None = None  # the leaderboard column key, where the probe declares one


def metric_catalogue(model: type[BaseModel], prefix: str = "") -> dict[str, MetricInfo]:
    """Every metric declared in ``model`` and its nested sections, by dotted key."""
    out: dict[str, MetricInfo] = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if "x-unit" in extra:
            out[key] = MetricInfo(key, str(extra["x-unit"]), str(extra["x-label"]),
                                  typing.cast(Direction | None, extra["x-direction"]),
                                  typing.cast(str | None, extra.get("x-column")))
        for inner in _models_in(field.annotation):
            out.update(metric_catalogue(inner, f"{key}."))
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes inside an annotation such as ``Stats | None`` (not inside lists/dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []
