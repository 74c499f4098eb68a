"""The one table of leaderboard columns: key, label, unit, direction (which way is better) and
the function that reads a model's value. Sort orders, CSV/Markdown/HTML headers and the JSON
column list all come from here.

A probe's columns come from its own metric declarations (``report_model.metric`` with
``column=``, read through ``report_model.metric_catalogue``): key, label, unit and direction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robaudit.compare import derived
from robaudit.compare.load import ModelEntry

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


def direct(key: str, probe: str, path: str, label: str, unit: str | None, direction: str | None) -> Column:
    """A column read straight from report['probes'][probe] at dotted ``path``."""
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
    """The columns every leaderboard has before the probes' own, in display order."""
    return [
        text("name", "model", lambda e, b: e.name),
        text("spec", "spec", lambda e, b: e.spec),
        text("status", "status", lambda e, b: e.status),
        text("reason", "reason", lambda e, b: e.reason),
        text("kind", "reference kind", _model("extra.kind")),
        Column("parameters", "parameters", "count", None, lambda e, b: _number(_model("parameters")(e, b))),
        Column("clean_acc", "clean accuracy", "fraction", "higher", clean_accuracy),
        text("norm", "attack norm", lambda e, b: dig(e.probes.get("adversarial_spectrum"), "norm")),
    ]


def derived_columns() -> list[Column]:
    """Columns computed across a report's probes and arrays: robust accuracy at the standard
    budgets (from the minimal sizes) and the mean corruption error against --baseline."""
    return [*[Column(bud.key, bud.label, "fraction", "higher", robust_accuracy(bud)) for bud in derived.BUDGETS],
            Column("mce", "mCE vs baseline", "ratio", "lower", mean_corruption_error)]


def probe_columns(entries: list[ModelEntry]) -> list[Column]:
    """The probes' columns, in registration order: the metrics a probe's ``Metrics`` model marks
    with ``column=`` (shown for every board), else, for a probe some report holds, every metric
    that holds a number in some report (keyed ``probe.metric``)."""
    from robaudit.probes import PROBES
    from robaudit.report_model import metric_catalogue

    present = {p for e in entries for p in e.probes}
    columns = []
    for probe in PROBES.names():
        metrics_model = getattr(PROBES.get(probe), "Metrics", None)
        catalogue = metric_catalogue(metrics_model) if metrics_model is not None else {}
        declared = [(info.column, key, info) for key, info in catalogue.items() if info.column]
        if not declared and probe in present:
            declared = [(f"{probe}.{key}", key, info) for key, info in catalogue.items()
                        if any(_number(dig(e.probes.get(probe), key)) is not None for e in entries)]
        columns += [direct(column, probe, key, info.label, info.unit, info.direction)
                    for column, key, info in declared]
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
    return base_columns() + probe_columns(entries) + derived_columns() + info + tail_columns()
