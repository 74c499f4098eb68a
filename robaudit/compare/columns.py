"""The one table of leaderboard columns: key, label, unit, direction (which way is better) and
the function that reads a model's value. Sort orders, CSV/Markdown/HTML headers and the JSON
column list all come from here.

Units and directions of metrics read straight from a probe section come from :func:`metric_meta`,
the single place that consults the probes' own metric declarations (``report_model.metric_catalogue``
of a probe's ``Metrics`` model) and falls back to the defaults written in this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robaudit.compare import derived
from robaudit.compare.load import ModelEntry
from robaudit.corruptions import CATEGORIES

Value = float | int | str | bool | None


@dataclass
class Board:
    """What extractors may consult besides their own row: all entries and the --baseline one."""

    entries: list[ModelEntry]
    baseline: ModelEntry | None = None


@dataclass(frozen=True)
class Column:
    """One leaderboard column. direction: "higher"/"lower" is better, None: no order of merit."""

    key: str
    label: str
    unit: str | None
    direction: str | None
    extract: Callable[[ModelEntry, Board], Value] = field(repr=False, compare=False)
    numeric: bool = True


def dig(tree: Any, dotted: str) -> Any:
    """tree['a']['b'] for 'a.b'; None where any step is missing."""
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def metric_meta(probe: str, key: str, unit: str | None, label: str,
                direction: str | None) -> tuple[str | None, str, str | None]:
    """(unit, label, direction) of probe metric ``key``: the probe's declared metadata when its
    ``Metrics`` model declares the key, else the given defaults."""
    from robaudit.probes import PROBES
    from robaudit.report_model import metric_catalogue

    metrics_model = getattr(PROBES.get(probe), "Metrics", None) if probe in PROBES else None
    info = metric_catalogue(metrics_model).get(key) if metrics_model is not None else None
    if info is None:
        return unit, label, direction
    return info.unit, info.label, info.direction


def direct(key: str, probe: str, path: str, label: str, unit: str | None, direction: str | None) -> Column:
    """A column read straight from report['probes'][probe] at dotted ``path``."""
    unit, label, direction = metric_meta(probe, path, unit, label, direction)
    return Column(key, label, unit, direction, lambda e, b: _number(dig(e.probes.get(probe), path)))


def text(key: str, label: str, read: Callable[[ModelEntry, Board], Value]) -> Column:
    return Column(key, label, None, None, read, numeric=False)


def _number(value: Any) -> Value:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def clean_accuracy(entry: ModelEntry, board: Board) -> Value:
    """The corruption probe's clean accuracy, else the adversarial probe's examined images' one."""
    corr = entry.probes.get("corruptions")
    if corr and corr.get("clean_accuracy") is not None:
        return float(corr["clean_accuracy"])
    adv = entry.probes.get("adversarial_spectrum")
    if adv and adv.get("n_examined"):
        return (adv["n_examined"] - adv["n_skipped"]) / adv["n_examined"]
    return None


def robust_accuracy(budget: derived.Budget) -> Callable[[ModelEntry, Board], Value]:
    def read(entry: ModelEntry, board: Board) -> Value:
        adv = entry.probes.get("adversarial_spectrum")
        if not adv or entry.report is None or adv.get("norm") != budget.norm:
            return None
        if derived.image_scale(entry.report["model"]["input_size"]) != budget.scale:
            return None
        sizes = entry.arrays("adversarial_spectrum").get("size")
        if sizes is None:
            return None
        return derived.robust_accuracy(sizes, budget.epsilon, adv["n_examined"], adv["n_skipped"])

    return read


def mean_corruption_error(entry: ModelEntry, board: Board) -> Value:
    section = entry.probes.get("corruptions")
    base = board.baseline.probes.get("corruptions") if board.baseline else None
    return derived.mean_corruption_error(section, base) if section and base else None


def flags(entry: ModelEntry, board: Board) -> Value:
    if entry.report is None:
        return None
    items = [f"{probe}: {flag}" for probe, probe_flags in entry.report.get("flags", {}).items()
             for flag in probe_flags]
    return "; ".join(items) or None


def _model(path: str) -> Callable[[ModelEntry, Board], Value]:
    return lambda e, b: None if e.report is None else dig(e.report["model"], path)


def base_columns() -> list[Column]:
    """The columns every leaderboard has, in display order."""
    return [
        text("name", "model", lambda e, b: e.name),
        text("spec", "spec", lambda e, b: e.spec),
        text("status", "status", lambda e, b: e.status),
        text("reason", "reason", lambda e, b: e.reason),
        text("kind", "reference kind", _model("extra.kind")),
        Column("parameters", "parameters", "count", None, lambda e, b: _number(_model("parameters")(e, b))),
        Column("clean_acc", "clean accuracy", "fraction", "higher", clean_accuracy),
        direct("f_rev_cpp", "hybrid", "f_rev.cycles_per_pixel.value", "f_rev", "cycles_per_pixel", None),
        direct("f_rev_cpp_std", "hybrid", "f_rev.cycles_per_pixel.std", "f_rev std (seeds)", "cycles_per_pixel",
               None),
        direct("f05_cpp", "adversarial_spectrum", "f_05.cycles_per_pixel.value", "f_0.5", "cycles_per_pixel", None),
        direct("f05_ci_low", "adversarial_spectrum", "f_05.cycles_per_pixel.ci_low", "f_0.5 CI low",
               "cycles_per_pixel", None),
        direct("f05_ci_high", "adversarial_spectrum", "f_05.cycles_per_pixel.ci_high", "f_0.5 CI high",
               "cycles_per_pixel", None),
        text("norm", "attack norm", lambda e, b: dig(e.probes.get("adversarial_spectrum"), "norm")),
        direct("median_size", "adversarial_spectrum", "size.median", "median minimal perturbation", "perturbation",
               "higher"),
        *[Column(bud.key, bud.label, "fraction", "higher", robust_accuracy(bud)) for bud in derived.BUDGETS],
        direct("corruption_acc", "corruptions", "overall_mean", "corruption accuracy", "fraction", "higher"),
        *[direct(f"corruption_acc_{cat}", "corruptions", f"category_mean.{cat}", f"corruption acc. ({cat} freq.)",
                 "fraction", "higher") for cat in CATEGORIES],
        Column("mce", "mCE vs baseline", "ratio", "lower", mean_corruption_error),
    ]


KNOWN_PROBES = ("hybrid", "adversarial_spectrum", "corruptions")


def probe_columns(entries: list[ModelEntry]) -> list[Column]:
    """Columns for the other probes' declared metrics (e.g. fourier_heatmap, bandpass): every
    metric of a probe's ``Metrics`` model that holds a number in some report becomes a column."""
    from robaudit.probes import PROBES
    from robaudit.report_model import metric_catalogue

    present = sorted({p for e in entries for p in e.probes if p not in KNOWN_PROBES and p in PROBES})
    columns = []
    for probe in present:
        metrics_model = getattr(PROBES.get(probe), "Metrics", None)
        for key, info in (metric_catalogue(metrics_model) if metrics_model is not None else {}).items():
            if any(_number(dig(e.probes.get(probe), key)) is not None for e in entries):
                columns.append(direct(f"{probe}.{key}", probe, key, f"{probe}: {info.label}", info.unit,
                                      info.direction))
    return columns


def tail_columns() -> list[Column]:
    """Columns after the probe metrics: settings notes, flags and the sweep's record."""
    return [
        text("settings", "settings (where they differ)", lambda e, b: e.settings_note or None),
        text("flags", "flags", flags),
        Column("seconds", "time", "seconds", None, lambda e, b: _number(e.seconds)),
        text("device", "device", lambda e, b: e.device),
    ]


def model_info_columns() -> list[Column]:
    """RobustBench model_info columns, present with --model-info."""
    return [
        Column("rb_clean_acc", "RobustBench clean acc.", "fraction", "higher",
               lambda e, b: _number(e.extra.get("clean_acc"))),
        Column("rb_autoattack_acc", "RobustBench AutoAttack acc.", "fraction", "higher",
               lambda e, b: _number(e.extra.get("autoattack_acc"))),
        text("rb_reference", "reference", lambda e, b: e.extra.get("reference")),
    ]


def all_columns(entries: list[ModelEntry], with_model_info: bool) -> list[Column]:
    """The leaderboard's columns in display order."""
    info = model_info_columns() if with_model_info else []
    return base_columns() + probe_columns(entries) + info + tail_columns()
