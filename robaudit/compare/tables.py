"""The leaderboard as CSV, JSON and Markdown, and the sort order they share."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from robaudit.compare.document import Leaderboard, Row

# The first of these columns that any model has is the default sort key (best first).
DEFAULT_SORT = ("robust_acc_linf_8_255", "robust_acc_l2_0.5", "robust_acc_linf_4_255", "robust_acc_l2_3.0",
                "corruption_acc", "clean_acc")
ALWAYS_SHOWN = ("name", "status")


def default_sort_key(board: Leaderboard) -> str | None:
    for key in DEFAULT_SORT:
        if any(row.values.get(key) is not None for row in board.rows):
            return key
    return None


def sorted_rows(board: Leaderboard, key: str | None) -> list[Row]:
    """Rows best first by column ``key`` (its direction; None: ascending); models without a
    value, and those that did not finish, last in their original order."""
    if key is None:
        return list(board.rows)
    column = next(c for c in board.columns if c.key == key)
    sign = -1.0 if column.direction == "higher" else 1.0

    def order(indexed: tuple[int, Row]) -> tuple[int, float, int]:
        position, row = indexed
        value = row.values.get(key)
        if row.status != "done" or not isinstance(value, int | float) or isinstance(value, bool):
            return (1, 0.0, position)
        return (0, sign * float(value), position)

    return [row for _, row in sorted(enumerate(board.rows), key=order)]


def shown_columns(board: Leaderboard) -> list[str]:
    """Keys of the columns with a value in some row (the Markdown and HTML tables skip the rest)."""
    return [c.key for c in board.columns
            if c.key in ALWAYS_SHOWN or any(row.values.get(c.key) is not None for row in board.rows)]


def format_value(value: Any, unit: str | None) -> str:
    """A cell as text: fractions and ratios to 3 decimals, frequencies to 4, counts with commas."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if unit == "count":
        return f"{int(value):,}"
    if unit in ("cycles_per_pixel", "nyquist_fraction"):
        return f"{value:.4f}"
    if unit == "seconds":
        return f"{value:.1f}"
    if unit in ("fraction", "ratio"):
        return f"{value:.3f}"
    return f"{value:.4g}"


def to_csv(board: Leaderboard) -> str:
    """Every column, one row per model in leaderboard order; empty cells where not measured."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = [c.key for c in board.columns]
    writer.writerow(keys)
    for row in board.rows:
        writer.writerow(["" if row.values.get(k) is None else row.values[k] for k in keys])
    return buffer.getvalue()


def to_json(board: Leaderboard) -> str:
    return json.dumps(board.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(board: Leaderboard) -> str:
    """A Markdown table sorted best first (see DEFAULT_SORT) with units and directions in a legend."""
    key = default_sort_key(board)
    keys = shown_columns(board)
    columns = {c.key: c for c in board.columns}
    arrows = {"higher": " ↑", "lower": " ↓", None: ""}
    header = [_md_cell(columns[k].label) + arrows[columns[k].direction] for k in keys]
    lines = ["# robaudit leaderboard", "",
             f"{len(board.rows)} models; sorted by {columns[key].label if key else 'input order'}, best first. "
             "↑: higher is better, ↓: lower is better.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(keys)]
    for row in sorted_rows(board, key):
        cells = [format_value(row.values.get(k), columns[k].unit) for k in keys]
        if row.link:
            cells[0] = f"[{cells[0]}]({row.link})"
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    units = [f"`{k}`: {columns[k].unit}" for k in keys if columns[k].unit]
    lines += ["", "Units: " + "; ".join(units) + "."]
    for corr in board.correlations:
        if corr.rho is not None:
            interval = "" if corr.ci_low is None else f", 95 % interval [{corr.ci_low:.2f}, {corr.ci_high:.2f}]"
            lines.append(f"- Spearman ρ({corr.x}, {corr.y}) = {corr.rho:.2f}{interval} over {corr.n} models")
    lines += ["", *[f"![{name}]({name})" for name in board.figures]]
    return "\n".join(lines) + "\n"
