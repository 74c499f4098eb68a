"""Typer options generated from settings metadata, so a new setting gets its flag with no CLI edit.

:func:`typer_parameters` turns each :class:`robaudit.config.SettingInfo` that has a ``flag`` into a
keyword parameter whose default is ``None`` ("not given"); the command passes only the given values
to :func:`robaudit.config.build_settings`, which parses and validates them with the same rules as
``--set`` and YAML. :func:`with_parameters` appends those parameters to a command's signature.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from robaudit.config import SettingInfo, union_args

F = TypeVar("F", bound=Callable[..., Any])


def cli_type(tp: Any) -> type:
    """The type Typer parses a setting of type ``tp`` as: lists and unknown types become text."""
    options = [a for a in union_args(tp) if a is not type(None)]
    if len(options) == 1 and options[0] in (bool, int, float, str, Path):
        return typing.cast(type, options[0])
    return str  # list[X] as "a,b,c", unions and custom types as text; build_settings parses them


def option_help(info: SettingInfo) -> str:
    """The setting's help text with its choices and its default appended."""
    parts = [info.help.rstrip(".")] if info.help else []
    if info.choices:
        parts.append(f"one of: {', '.join(info.choices)}")
    if info.default is not None:
        default = ",".join(map(str, info.default)) if isinstance(info.default, list | tuple) else info.default
        parts.append(f"default: {default}")
    return "; ".join(parts)


def typer_parameters(infos: list[SettingInfo], *, name_prefix: str = "") -> list[inspect.Parameter]:
    """One keyword-only ``inspect.Parameter`` (default None) per setting that declares a ``flag``.

    The parameter is named ``name_prefix + info.name`` (so two settings classes with the same field
    names can share one command); its option is ``--<flag>`` (``--<flag>/--no-<flag>`` for bools).
    """
    params = []
    for info in infos:
        if info.flag is None:
            continue
        tp = cli_type(info.type)
        names: tuple[str, ...] = (f"--{info.flag}/--no-{info.flag}",) if tp is bool else (f"--{info.flag}",)
        names += (f"-{info.short}",) if info.short and tp is not bool else ()
        metavar = info.metavar or (None if tp is bool else _metavar(info, tp))
        option = typer.Option(*names, help=option_help(info), metavar=metavar, show_default=False)
        params.append(inspect.Parameter(
            name_prefix + info.name, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[tp | None, option],
        ))
    return params


def given_values(infos: list[SettingInfo], kwargs: dict[str, Any], *, name_prefix: str = "") -> dict[str, Any]:
    """``{setting name: value}`` for the flags of ``infos`` that were given (not None) in ``kwargs``."""
    values = {}
    for info in infos:
        value = kwargs.get(name_prefix + info.name)
        if info.flag is not None and value is not None:
            values[info.name] = value
    return values


def with_parameters(func: F, params: list[inspect.Parameter]) -> F:
    """``func`` with ``params`` appended to its signature (in place of its ``**kwargs``) for Typer.

    The returned wrapper calls ``func`` unchanged, so the extra values arrive in its ``**kwargs``.
    Annotations are resolved against ``func``'s module first, so string annotations still work.
    """
    hints = typing.get_type_hints(func, include_extras=True)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(func).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    taken = {p.name for p in own}
    clash = [p.name for p in params if p.name in taken]
    if clash:
        raise ValueError(f"{func.__name__} already has parameters {clash}")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]
    everything = positional + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params] + keyword
    wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        everything, return_annotation=hints.get("return", inspect.Signature.empty))
    wrapper.__annotations__ = {p.name: p.annotation for p in everything}
    if "return" in hints:
        wrapper.__annotations__["return"] = hints["return"]
    return typing.cast(F, wrapper)


def _metavar(info: SettingInfo, tp: type) -> str:
    if typing.get_origin(_first(info.type)) is list:
        return "A,B,…"
    return {int: "INT", float: "FLOAT", Path: "PATH"}.get(tp, "TEXT")


def _first(tp: Any) -> Any:
    options = [a for a in union_args(tp) if a is not type(None)]
    return options[0] if options else tp


@contextlib.contextmanager
def stdout_for_json_only(json_out: bool) -> Iterator[None]:
    """With ``--json``, what the work prints on stdout (a library's download line, a user's
    factory) goes to stderr, so stdout holds the JSON document alone."""
    if not json_out:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


class _StderrLines(logging.Handler):
    """Writes each record as one plain line on the current sys.stderr (through Rich, so it plays
    well with progress bars)."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.console import Console

        Console(stderr=True).print(self.format(record), highlight=False, markup=False, soft_wrap=True)


def messages_on_stderr(quiet: bool) -> None:
    """robaudit's information lines (the ``robaudit`` logger at INFO: training epochs, files
    written) on stderr, or none with ``quiet``; warnings and errors either way."""
    logger = logging.getLogger("robaudit")
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):
        logger.addHandler(_StderrLines())
        logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
