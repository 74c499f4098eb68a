"""The one number formatter of the report card and the terminal summary."""

from __future__ import annotations

from typing import Any


def fmt(value: float | None, spec: str = ".4f", null: str = "null") -> str:
    """``value`` formatted with ``spec`` (e.g. ".3f", ".4g", ".1%"); ``null`` where it is None."""
    return null if value is None else format(value, spec)


def fmt_mean_std(stats: dict[str, Any], spec: str = ".4f", null: str = "null") -> str:
    """'mean ± std' of a ``{"mean", "std"}`` dict, or ``null`` where the mean is None."""
    if stats.get("mean") is None:
        return null
    return f"{fmt(stats['mean'], spec)} ± {fmt(stats['std'], spec)}"
