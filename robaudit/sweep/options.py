"""The one map from a zoo key to "the `score` option of that name" and on to a SuiteConfig.

A zoo file takes every `score` option under its CLI name with underscores: SuiteConfig's options
and every probe setting that declares a flag (both from their settings metadata), plus ``set``
(PROBE.SETTING=VALUE strings). :func:`robaudit.suite_config.assemble_config` turns them into a
validated SuiteConfig exactly as `score` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from robaudit.config import settings_info
from robaudit.errors import RobauditError
from robaudit.registry import suggest
from robaudit.suite_config import SuiteConfig, assemble_config, probe_flags

# SuiteConfig fields that are not options of a zoo entry: the sweep sets them per model.
_NOT_OPTIONS = {"model", "out", "probe_options", "command"}


def path_settings() -> tuple[set[str], set[tuple[str, str]]]:
    """The settings that hold a path (``setting(path=True)``): zoo option names, and
    (probe, setting) pairs as ``set`` entries name them."""
    from robaudit.probes import PROBES

    options = {i.name for i in settings_info(SuiteConfig) if i.path}
    pairs = {(p, i.name) for p in PROBES.names() for i in settings_info(PROBES.get(p).Settings) if i.path}
    options |= {key for key, targets in probe_flags().items() if any(t in pairs for t in targets)}
    return options, pairs


def _resolve_option(key: str, text: str, base_dir: Path) -> str:
    """A path option's value against the zoo folder; `weights` without a file suffix that names
    no file there is a torchvision weights enum name, as `score --weights` reads it."""
    is_name = key == "weights" and not Path(text).suffix and not (base_dir / text).expanduser().exists()
    return text if is_name else resolve_path(text, base_dir)


def _resolve_set(entry: str, pairs: set[tuple[str, str]], base_dir: Path) -> str:
    """A ``PROBE.SETTING=VALUE`` entry with VALUE resolved when that setting holds a path."""
    key, eq, value = entry.partition("=")
    probe, _, name = key.strip().partition(".")
    if not eq or (probe, name.strip()) not in pairs or not value.strip() or value.strip() in ("null", "~"):
        return entry
    return f"{key}={resolve_path(value.strip(), base_dir)}"


def score_options() -> dict[str, Any]:
    """Every option a zoo entry may set, name → type (the `score` CLI names with underscores)."""
    from robaudit.probes import PROBES

    options = {i.name: i.type for i in settings_info(SuiteConfig) if i.flag and i.name not in _NOT_OPTIONS}
    for key, targets in probe_flags().items():
        probe, field = targets[0]
        options[key] = next(i.type for i in settings_info(PROBES.get(probe).Settings) if i.name == field)
    options["set"] = list[str]
    return options


def check_option_names(values: dict[str, Any], where: str, also: tuple[str, ...] = ()) -> None:
    """An unknown key raises one RobauditError line with close matches (among the options and
    ``also``, e.g. the zoo file's `models` key at the top level)."""
    names = score_options()
    for key in values:
        if key not in names:
            raise RobauditError(f"{where}: unknown option {key!r}.{suggest(key, sorted([*names, *also]))}")


def check_options(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Unknown keys and any value `score` would refuse raise one RobauditError line."""
    check_option_names(values, where)
    checked = {k: [v] if k in ("probes", "set") and isinstance(v, str) else v for k, v in values.items()}
    try:
        assemble_config({k: v for k, v in checked.items() if k != "set"}, checked.get("set"))
    except RobauditError as exc:
        raise RobauditError(f"{where}: {exc}") from None
    return checked


def resolve_path(text: str, base_dir: Path) -> str:
    """A relative path against the zoo file's folder; absolute, `~` and `fetch:` stay as they are."""
    if text.startswith("fetch:"):
        return text
    path = Path(text).expanduser()
    return os.path.normpath(path if path.is_absolute() else base_dir / path)


def spec_path(spec: str) -> tuple[str, str, str] | None:
    """The path inside a spec as (head, path, tail), spec == head + path + tail: file:PATH,
    py:FILE.py:FUNC, npz:PATH, folder:PATH; None for a spec without one."""
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in ("file", "npz", "folder"):
        return f"{prefix}:", rest, ""
    if sep and prefix == "py" and ".py:" in rest:
        target, _, func = rest.rpartition(":")
        return "py:", target, f":{func}"
    return None


def resolve_spec_path(spec: str, base_dir: Path) -> str:
    """A spec with its path (see :func:`spec_path`) resolved against the zoo file's folder."""
    parts = spec_path(spec)
    if parts is None:
        return spec
    head, path, tail = parts
    return f"{head}{resolve_path(path, base_dir)}{tail}"


def build_suite_config(spec: str, values: dict[str, Any], base_dir: Path, out: Path) -> SuiteConfig:
    """The SuiteConfig `score --model SPEC --out OUT` would build with these (checked) options."""
    values = dict(values)
    options, pairs = path_settings()
    for key in sorted(options & set(values)):
        if values[key] is not None:
            values[key] = _resolve_option(key, str(values[key]), base_dir)
    if "data" in values:
        values["data"] = resolve_spec_path(values["data"], base_dir)
    sets = [_resolve_set(str(entry), pairs, base_dir) for entry in values.pop("set", None) or []]
    suite = values | {"model": resolve_spec_path(spec, base_dir), "out": out}
    return assemble_config(suite, sets or None)
