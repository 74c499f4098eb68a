"""The leaderboard's JSON document as a pydantic model; robaudit/schema/leaderboard.schema.json is
generated from it (``python -m robaudit.compare.document`` rewrites the file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["1.0"] = "1.0"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "leaderboard.schema.json"
Value = float | int | str | bool | None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnInfo(Strict):
    """A column: its key in each row's values, label, unit, and which direction is better."""

    key: str
    label: str
    unit: str | None
    direction: Literal["higher", "lower"] | None
    numeric: bool


class Row(Strict):
    """One model. values maps column keys to numbers, text or null (not measured)."""

    name: str
    status: Literal["done", "failed", "skipped"]
    link: str | None = Field(description="relative link to the model's report card")
    values: dict[str, Value]


class CorrelationInfo(Strict):
    """Spearman's ρ across models between two columns, with its bootstrap 95 % interval."""

    x: str
    y: str
    rho: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    resamples: int
    seed: int


class Leaderboard(Strict):
    """leaderboard.json: columns, one row per model, correlations and the figures' file names."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    created: str
    robaudit_version: str | None
    sources: list[str]
    baseline: str | None
    allow_mixed: bool
    differing_settings: list[str] = Field(description="settings keys whose values differ across reports")
    columns: list[ColumnInfo]
    rows: list[Row]
    correlations: list[CorrelationInfo]
    figures: list[str]


def schema_text() -> str:
    """The JSON Schema of :class:`Leaderboard`, as written to SCHEMA_PATH."""
    schema = Leaderboard.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"https://robaudit.dev/schema/leaderboard-{SCHEMA_VERSION}.json", **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from robaudit.atomic import atomic_write_text

    atomic_write_text(SCHEMA_PATH, schema_text())
    print(SCHEMA_PATH)
