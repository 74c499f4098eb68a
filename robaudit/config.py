"""Configuration metadata in one place: every option carries its help, flag, type, choices and bounds.

A settings class is a dataclass whose fields are declared with :func:`setting`. From that one
declaration come the CLI flag (``flag``), the ``--set PROBE.KEY=VALUE`` key (the field name), the
zoo-file key, the validation rules (``choices``, ``minimum``, ``maximum``, ``parse``) and the help
text, so a new option is one edit. :func:`build_settings` validates a dict of raw values (from
flags, ``--set`` or YAML) with the same rules whatever their origin.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from robaudit.errors import RobauditError
from robaudit.registry import suggest

S = TypeVar("S")
_MISSING: Any = dataclasses.MISSING


@dataclass(frozen=True)
class SettingInfo:
    """What one option is: its name, type, default and the rules its values must follow."""

    name: str
    type: Any
    default: Any
    help: str
    flag: str | None = None  # CLI flag name without dashes, e.g. "hybrid-grid"; None: --set only
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    parse: Callable[[Any], Any] | None = None  # text/YAML value → typed value (raises RobauditError)
    metavar: str | None = None
    short: str | None = None  # one-letter alias, e.g. "m" for -m
    path: bool = False  # a file or folder path (a zoo file's relative paths resolve against its folder)


def setting(
    default: Any = _MISSING, *, help: str, flag: str | None = None, choices: Sequence[str] | None = None,
    minimum: float | None = None, maximum: float | None = None, parse: Callable[[Any], Any] | None = None,
    factory: Callable[[], Any] | None = None, metavar: str | None = None, short: str | None = None,
    path: bool = False,
) -> Any:
    """A dataclass field carrying its option metadata (use as ``grid: list[float] = setting(...)``)."""
    meta = {"robaudit": {"help": help, "flag": flag, "choices": tuple(choices) if choices else None,
                         "minimum": minimum, "maximum": maximum, "parse": parse, "metavar": metavar,
                         "short": short, "path": path}}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def settings_info(cls: type) -> list[SettingInfo]:
    """Every option of settings class ``cls`` in declaration order."""
    hints = typing.get_type_hints(cls)
    infos = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("robaudit", {"help": ""})
        factory: Any = f.default_factory
        default = f.default if f.default is not _MISSING else (factory() if factory is not _MISSING else None)
        infos.append(SettingInfo(name=f.name, type=hints[f.name], default=default, **meta))
    return infos


def build_settings(cls: type[S], values: dict[str, Any], where: str) -> S:
    """Validate raw ``values`` against ``cls``'s options and return an instance.

    ``where`` names the owner in messages (e.g. "probe hybrid"). Unknown keys, wrong types,
    values outside ``choices`` or bounds raise :class:`RobauditError` listing what is valid.
    """
    infos = {info.name: info for info in settings_info(cls)}
    unknown = sorted(set(values) - set(infos))
    if unknown:
        raise RobauditError(f"{where} has no setting {unknown[0]!r}.{suggest(unknown[0], sorted(infos))} "
                            f"Valid: {', '.join(sorted(infos))}.")
    checked = {name: check_value(infos[name], value, where) for name, value in values.items()}
    return cls(**checked)


def check_value(info: SettingInfo, value: Any, where: str) -> Any:
    """One value, parsed and checked against ``info``'s type, choices and bounds."""
    label = f"{where} setting {info.name}" + (f" (--{info.flag})" if info.flag else "")
    if info.parse is not None and value is not None and not _already_typed(value, info.type):
        try:
            value = info.parse(value)
        except RobauditError as exc:  # name the setting unless the parser already did
            named = info.flag is not None and f"--{info.flag}" in str(exc)
            raise RobauditError(str(exc) if named else f"{label}: {exc}") from None
    value = coerce(value, info.type, label)
    if info.choices is not None and value is not None and value not in info.choices:
        raise RobauditError(f"{label} must be one of {', '.join(info.choices)}, not {value!r}."
                            f"{suggest(str(value), list(info.choices))}")
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, int | float) and not isinstance(item, bool):
            if info.minimum is not None and item < info.minimum:
                raise RobauditError(f"{label} must be ≥ {info.minimum:g}, not {item!r}")
            if info.maximum is not None and item > info.maximum:
                raise RobauditError(f"{label} must be ≤ {info.maximum:g}, not {item!r}")
    return value


def _already_typed(value: Any, tp: Any) -> bool:
    try:
        coerce(value, tp, "")
    except RobauditError:
        return False
    return not isinstance(value, str) or _accepts(tp, str)


def _accepts(tp: Any, kind: type) -> bool:
    return any(a is kind for a in union_args(tp))


def union_args(tp: Any) -> tuple[Any, ...]:
    """The members of a union type (``int | None`` → (int, NoneType)); (tp,) for any other type."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def coerce(value: Any, tp: Any, label: str) -> Any:
    """``value`` as type ``tp`` (int, float, bool, str, Path, list[X], X | None); else RobauditError."""
    options = union_args(tp)
    if value is None:
        if type(None) in options:
            return None
        raise RobauditError(f"{label} needs a value")
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _coerce_one(value, option, label)
        except RobauditError as exc:
            errors.append(str(exc))
    raise RobauditError(errors[0] if errors else f"{label}: unsupported value {value!r}")


def _coerce_one(value: Any, tp: Any, label: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (item_type,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):  # "a,b,c" from a flag
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise RobauditError(f"{label} must be a list, not {value!r}")
        return [_coerce_one(v, item_type, label) for v in value]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise RobauditError(f"{label} must be true or false, not {value!r}")
    if tp is int:
        number = _number(value, label)
        if not float(number).is_integer() or abs(number) > 2**62:
            raise RobauditError(f"{label} must be a whole number, not {value!r}")
        return int(number)
    if tp is float:
        return float(_number(value, label))
    if tp is str:
        if isinstance(value, str):
            return value
        raise RobauditError(f"{label} must be text, not {value!r}")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise RobauditError(f"{label} must be a path, not {value!r}")
    return value


def _number(value: Any, label: str) -> float:
    if isinstance(value, bool):
        raise RobauditError(f"{label} must be a number, not {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RobauditError(f"{label} must be a number, not {value!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RobauditError(f"{label} must be a finite number, not {value!r}")
    return value


def read_yaml_file(path: Path, what: str) -> Any:
    """The parsed content of the YAML file ``path`` (``yaml.safe_load``), or a one-line
    RobauditError naming ``what`` it should be (e.g. "policy", "zoo file") and the problem."""
    import yaml  # only the commands that read YAML pay for it

    if not path.is_file():
        raise RobauditError(f"{what} {path} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RobauditError(f"{what} {path} is not a text file; give a YAML {what}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RobauditError(f"{what} {path} is not valid YAML{where}; fix the syntax") from None
