"""The one map from a zoo key to "the `score` option of that name" and on to a SuiteConfig.

A zoo file takes every `score` option under its CLI name with underscores. Suite-level options are
SuiteConfig's own fields; probe options are score's probe flags, turned into per-probe settings by
the same function `score` uses (:func:`robaudit.cli.collect_probe_options`). Switching both to the
settings metadata (robaudit.config.setting) is a change to :func:`score_options` alone.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from robaudit.config import coerce
from robaudit.errors import RobauditError
from robaudit.registry import suggest
from robaudit.suite import SuiteConfig

# SuiteConfig fields that are not options of a zoo entry: the sweep sets them per model.
_NOT_OPTIONS = {"model", "out", "probe_options", "command"}
# score's probe flags (name → type); `set` takes PROBE.SETTING=VALUE strings.
PROBE_FLAGS: dict[str, Any] = {
    "n_images": int, "hybrid_grid": str, "hybrid_seeds": int, "protocol": str, "norm": str,
    "untargeted": bool, "steps": int, "restarts": int, "corruptions_dir": str, "grey": bool,
    "set": list[str],
}
# Options holding a path (relative paths resolve against the zoo file's folder).
PATH_OPTIONS = {"data_dir", "model_dir", "weights", "corruptions_dir"}
POSITIVE = {"n_images", "hybrid_seeds", "steps", "restarts", "batch_size"}


def score_options() -> dict[str, Any]:
    """Every option a zoo entry may set, name → type (the `score` CLI names with underscores)."""
    hints = typing.get_type_hints(SuiteConfig)
    suite = {f.name: hints[f.name] for f in dataclasses.fields(SuiteConfig) if f.name not in _NOT_OPTIONS}
    suite["probes"] = list[str]
    return {**suite, **PROBE_FLAGS}


def score_option_names() -> list[str]:
    return sorted(score_options())


def check_options(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Unknown keys, wrong types and non-positive counts raise one RobauditError line."""
    types = score_options()
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in types:
            raise RobauditError(f"{where}: unknown option {key!r}.{suggest(key, sorted(types))}")
        if key in ("probes", "set") and isinstance(value, str):
            value = [value]
        checked[key] = coerce(value, types[key], f"{where}: option {key}")
        if key in POSITIVE and checked[key] is not None and checked[key] < 1:
            raise RobauditError(f"{where}: option {key} must be ≥ 1, not {value!r}")
    return checked


def resolve_path(text: str, base_dir: Path) -> str:
    """A relative path against the zoo file's folder; absolute, `~` and `fetch:` stay as they are."""
    if text.startswith("fetch:"):
        return text
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def resolve_spec_path(spec: str, base_dir: Path) -> str:
    """Paths inside specs: file:PATH, py:FILE.py:FUNC, npz:PATH, folder:PATH."""
    prefix, sep, rest = spec.partition(":")
    if not sep:
        return spec
    if prefix in ("file", "npz", "folder"):
        return f"{prefix}:{resolve_path(rest, base_dir)}"
    if prefix == "py" and ".py:" in rest:
        target, _, func = rest.rpartition(":")
        return f"py:{resolve_path(target, base_dir)}:{func}"
    return spec


def build_suite_config(spec: str, values: dict[str, Any], base_dir: Path, out: Path) -> SuiteConfig:
    """The SuiteConfig `score` would build for model ``spec`` with these (checked) options."""
    from robaudit.cli import _only_known_fields, collect_probe_options, parse_set_options
    from robaudit.models import DEFAULT_MODEL
    from robaudit.probes import PROBES
    from robaudit.suite import probe_name

    values = dict(values)
    for key in sorted(PATH_OPTIONS & set(values)):
        text = None if values[key] is None else str(values[key])
        if text is None or (key == "weights" and not Path(text).suffix):  # a torchvision weights enum name
            continue
        values[key] = resolve_path(text, base_dir)
        if key in ("data_dir", "model_dir"):
            values[key] = Path(values[key])
    if "data" in values:
        values["data"] = resolve_spec_path(values["data"], base_dir)
    suite = {k: v for k, v in values.items() if k not in PROBE_FLAGS}
    flags = {k: values.get(k) for k in PROBE_FLAGS}
    flags["grey"] = bool(flags["grey"])
    flags["untargeted"] = bool(flags["untargeted"])
    selected = suite.pop("probes", None)
    probes = [probe_name(p) for p in selected] if selected else None
    options = collect_probe_options(flags, flags.pop("set") or [])
    config = SuiteConfig(model=resolve_spec_path(spec, base_dir), out=out, probes=probes, **suite)
    if config.model == DEFAULT_MODEL and config.data == SuiteConfig.data and not flags["protocol"]:
        # As in `score`: the zero-argument demo uses the cheap attack preset.
        options.setdefault("adversarial_spectrum", {}).setdefault("protocol", "fast")
    config.probe_options = _only_known_fields(options, probes or PROBES.names())
    for name, fields in parse_set_options(values.get("set") or []).items():
        config.probe_options.setdefault(name, {}).update(fields)  # --set values are checked strictly
    return config
