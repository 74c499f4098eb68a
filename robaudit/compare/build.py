"""Assemble the leaderboard from report folders and write every file into the output folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from robaudit.atomic import atomic_write_text, ensure_folder
from robaudit.compare import figures
from robaudit.compare.columns import Board, Column, all_columns
from robaudit.compare.document import ColumnInfo, CorrelationInfo, Leaderboard, Row
from robaudit.compare.load import ModelEntry, check_settings, load_sources
from robaudit.compare.model_info import join_model_info, read_model_info
from robaudit.compare.stats import N_RESAMPLES
from robaudit.compare.tables import to_csv, to_json, to_markdown
from robaudit.corruptions import CATEGORIES
from robaudit.errors import RobauditError
from robaudit.registry import suggest
from robaudit.versions import package_versions

SEED = 0  # bootstrap resamples over models
ROBUST_KEYS = ("robust_acc_linf_8_255", "robust_acc_l2_0.5", "robust_acc_linf_4_255", "robust_acc_l2_3.0")


def _link(entry: ModelEntry, out: Path) -> str | None:
    card = entry.folder / "report.md"
    if entry.report is None or not card.is_file():
        return None
    return quote(Path(os.path.relpath(card.resolve(), out.resolve())).as_posix(), safe="/")


def _rows(entries: list[ModelEntry], columns: list[Column], board: Board, out: Path) -> list[Row]:
    rows = []
    for entry in entries:
        values = {c.key: c.extract(entry, board) for c in columns}
        status = entry.status if entry.status in ("done", "failed", "skipped") else "failed"
        rows.append(Row(name=entry.name, status=status, link=_link(entry, out), values=values))  # type: ignore[arg-type]
    return rows


def _series(rows: list[Row], columns: dict[str, Column], key: str) -> figures.Series:
    values = [r.values.get(key) if r.status == "done" else None for r in rows]
    unit = columns[key].unit
    suffix = f" ({unit.replace('_', ' ')})" if unit and unit != "fraction" else ""
    label = columns[key].label if columns[key].label.endswith(suffix) else columns[key].label + suffix
    return figures.Series(np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64), label)


def _scatter_plan(rows: list[Row], columns: dict[str, Column]) -> list[tuple[str, str, list[str]]]:
    """(file, x key, y keys) of each scatter plot, keeping the columns that hold values."""
    def has(key: str) -> bool:
        return key in columns and sum(r.values.get(key) is not None for r in rows) >= 2

    robust = next((k for k in ROBUST_KEYS if has(k)), None)
    plan = [("scatter_frev_f05.png", "f_rev_cpp", ["f05_cpp"]),
            ("scatter_f05_median_size.png", "f05_cpp", ["median_size"]),
            ("scatter_frev_corruption.png", "f_rev_cpp", [f"corruption_acc_{c}" for c in CATEGORIES])]
    if robust:
        plan.insert(1, ("scatter_frev_robust_acc.png", "f_rev_cpp", [robust]))
        plan.append(("scatter_robust_acc_autoattack.png", "rb_autoattack_acc", [robust]))
    plan += [("scatter_frev_flp50.png", "f_rev_cpp", [k]) for k in columns
             if "f_lp50" in k and columns[k].unit == "cycles_per_pixel"][:1]
    kept = [(file, x, [y for y in ys if has(y)]) for file, x, ys in plan if has(x)]
    return [(file, x, ys) for file, x, ys in kept if ys]


SCATTER_FILES = ("scatter_frev_f05.png", "scatter_frev_robust_acc.png", "scatter_f05_median_size.png",
                 "scatter_frev_corruption.png", "scatter_robust_acc_autoattack.png", "scatter_frev_flp50.png")
"""Every scatter plot file a leaderboard may draw (those it does not draw this time are removed, so
a folder reused for another leaderboard holds no figure of the previous one)."""


def _figures(entries: list[ModelEntry], rows: list[Row], columns: dict[str, Column],
             out: Path) -> tuple[list[str], list[CorrelationInfo]]:
    names = [r.name for r in rows]
    groups = [figures.group_of(r.values.get("kind")) for r in rows]
    made, correlations = [], []
    for file, x_key, y_keys in _scatter_plan(rows, columns):
        x = _series(rows, columns, x_key)
        ys = [_series(rows, columns, k) for k in y_keys]
        ylabel = ys[0].label
        if file == "scatter_frev_corruption.png":  # categories share one axis, tagged low/mid/high
            ylabel = "corruption accuracy"
            for series, key in zip(ys, y_keys, strict=True):
                series.label = key.rsplit("_", 1)[-1]
        results = figures.scatter(out / file, x, ys, names, groups, SEED, ylabel)
        for key, corr in zip(y_keys, results, strict=True):
            correlations.append(CorrelationInfo(x=x_key, y=key, rho=corr.rho, ci_low=corr.low, ci_high=corr.high,
                                                n=corr.n, resamples=N_RESAMPLES, seed=SEED))
        made.append(file)
    done = [e for e in entries if e.report is not None]
    overlays = (("overlay_hybrid.png", figures.hybrid_overlay), ("overlay_spectra.png", figures.spectrum_overlay),
                ("overlay_robust_acc.png", figures.robustness_overlay))
    for file, draw in overlays:
        if draw(out / file, done):
            made.append(file)
    for file in {*SCATTER_FILES, *(file for file, _ in overlays)} - set(made):
        (out / file).unlink(missing_ok=True)
    return made, correlations


def _baseline(entries: list[ModelEntry], name: str) -> ModelEntry:
    """The --baseline model: a finished one with a corruptions section, else one RobauditError line."""
    usable = [e.name for e in entries if e.report is not None and "corruptions" in e.probes]
    choices = f"models with one: {', '.join(usable)}" if usable else "no model of this leaderboard has one"
    base = next((e for e in entries if e.name == name), None)
    if base is None:
        raise RobauditError(f"--baseline {name!r} is not a model of this leaderboard."
                            f"{suggest(name, [e.name for e in entries])} It needs a corruptions section; {choices}.")
    if base.report is None:
        raise RobauditError(f"--baseline {name!r} did not finish ({base.reason}); {choices}")
    if "corruptions" not in base.probes:
        raise RobauditError(f"--baseline {name!r} has no corruptions section (run the corruptions probe on it); "
                            f"{choices}")
    return base


def build_leaderboard(sources: list[Path], out: Path, *, baseline: str | None, model_info: Path | None,
                      allow_mixed: bool) -> Leaderboard:
    """Read, check and tabulate; draws the figures into ``out``."""
    entries = load_sources(sources)
    differing = check_settings(entries, allow_mixed)
    base = None if baseline is None else _baseline(entries, baseline)
    if model_info is not None and join_model_info(entries, read_model_info(model_info)) == 0:
        raise RobauditError(f"--model-info {model_info}: no file matches a model name of this leaderboard")
    columns = all_columns(entries, with_model_info=model_info is not None)
    ensure_folder(out, "--out")
    rows = _rows(entries, columns, Board(entries, base), out)
    made, correlations = _figures(entries, rows, {c.key: c for c in columns}, out)
    infos = [ColumnInfo(key=c.key, label=c.label, unit=c.unit, direction=c.direction,  # type: ignore[arg-type]
                        numeric=c.numeric) for c in columns]
    return Leaderboard(
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        robaudit_version=package_versions().get("robaudit"), sources=[str(s) for s in sources],
        baseline=baseline, allow_mixed=allow_mixed, differing_settings=differing, columns=infos, rows=rows,
        correlations=correlations, figures=made)


def build_and_write(sources: list[Path], out: Path, *, baseline: str | None = None, model_info: Path | None = None,
                    allow_mixed: bool = False) -> dict[str, Any]:
    """Write leaderboard.{csv,json,md,html} and the figures into ``out``; returns the JSON dict."""
    from robaudit.compare.html import render_html

    board = build_leaderboard(sources, Path(out), baseline=baseline, model_info=model_info, allow_mixed=allow_mixed)
    atomic_write_text(out / "leaderboard.csv", to_csv(board))
    atomic_write_text(out / "leaderboard.json", to_json(board))
    atomic_write_text(out / "leaderboard.md", to_markdown(board))
    atomic_write_text(out / "leaderboard.html", render_html(board, out))
    return board.model_dump(mode="json")
