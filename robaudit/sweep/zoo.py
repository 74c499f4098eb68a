"""The zoo file: YAML with top-level `score` options as defaults and a `models:` list.

```yaml
probes: [hybrid, corruptions]     # any `score` option, CLI name with underscores
n_images: 200
models:
  - embedded:cnn                  # a spec string
  - {spec: "file:refs/*.pt"}      # a pattern, expanded through the source's catalogue
  - {spec: "timm:resnet18.a1_in1k", name: r18, data: imagenet, data_dir: /data/imagenet}
```
Relative paths resolve against the zoo file's folder. :func:`zoo_schema` is the JSON Schema
(docs/zoo.schema.json is generated from it).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robaudit.config import read_yaml_file
from robaudit.errors import RobauditError
from robaudit.registry import suggest
from robaudit.sweep.options import score_options

ENTRY_KEYS = ("spec", "name")


@dataclass
class ZooEntry:
    """One item of `models:` with the defaults merged in. ``where`` names it in messages."""

    index: int
    spec: str
    name: str | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"models[{self.index}] ({self.spec})"


@dataclass
class Zoo:
    path: Path
    defaults: dict[str, Any]
    entries: list[ZooEntry]

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def read_zoo(path: Path) -> Zoo:
    """Parse the zoo file's structure (options are checked later, per entry)."""
    raw = read_yaml_file(path, "zoo file")
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), list) or not raw["models"]:
        raise RobauditError(f"{path} must be a mapping with a non-empty `models:` list (see docs/sweep.md)"
                            f"{_misspelt_models(raw)}")
    defaults = {k: v for k, v in raw.items() if k != "models"}
    entries = [_entry(i, item, defaults) for i, item in enumerate(raw["models"])]
    return Zoo(path=path.resolve(), defaults=defaults, entries=entries)


def _misspelt_models(raw: Any) -> str:
    """'; unknown key 'model'. Did you mean: models?' for a top-level key close to `models`, else ''."""
    if not isinstance(raw, dict) or "models" in raw:
        return ""
    options = score_options()
    for key in map(str, raw):
        if key not in options and suggest(key, ["models"]):
            return f"; unknown key {key!r}.{suggest(key, sorted([*options, 'models']))}"
    return ""


def _entry(index: int, item: Any, defaults: dict[str, Any]) -> ZooEntry:
    if isinstance(item, str):
        return ZooEntry(index, item.strip(), None, dict(defaults))
    if not isinstance(item, dict) or not isinstance(item.get("spec"), str):
        # Kept as an entry so the validator reports it on its own line with the others.
        return ZooEntry(index, repr(item)[:60], None, {"__bad__": "must be a spec string or a mapping with `spec:`"})
    name = item.get("name")
    overrides = {k: v for k, v in item.items() if k not in ENTRY_KEYS}
    return ZooEntry(index, item["spec"].strip(), None if name is None else str(name), {**defaults, **overrides})


def _json_type(tp: Any) -> dict[str, Any]:
    """JSON Schema of a Python option type (int, float, bool, str, Path, list[X], X | None)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is list:
        return {"type": "array", "items": _json_type(args[0])}
    if type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return {"anyOf": [_json_type(inner[0]), {"type": "null"}]}
    names = {int: "integer", float: "number", bool: "boolean", str: "string", Path: "string"}
    return {"type": names.get(tp, "string")}


def zoo_schema() -> dict[str, Any]:
    """The JSON Schema of a zoo file."""
    options = {name: _json_type(tp) for name, tp in sorted(score_options().items())}
    for listed in ("probes", "set"):  # a single string is accepted as a one-item list
        options[listed] = {"anyOf": [options[listed], {"type": "string"}]}
    entry = {
        "type": "object", "required": ["spec"], "additionalProperties": False,
        "properties": {"spec": {"type": "string", "description": "PREFIX:NAME, or a pattern"},
                       "name": {"type": "string", "description": "folder name under models/"}, **options},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "robaudit zoo file",
        "description": "Models for `robaudit sweep`: top-level `score` options are defaults for every entry.",
        "type": "object", "required": ["models"], "additionalProperties": False,
        "properties": {**options, "models": {"type": "array", "minItems": 1,
                                             "items": {"anyOf": [{"type": "string"}, entry]}}},
    }
