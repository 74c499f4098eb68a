"""The corruption probe's figures (heat map, category means, noise sweep), report.md section and
terminal rows. Corruptions are listed grouped by frequency category (low, mid, high)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robaudit import plotting
from robaudit.corruptions import CATEGORIES, category_of
from robaudit.formatting import fmt
from robaudit.probes.base import ProbeResult

CATEGORY_COLOURS = {"low": "tab:blue", "mid": "tab:orange", "high": "tab:red"}


def _acc(value: float | None) -> str:
    return fmt(value, ".3f", null="–")


def by_category(names: list[str]) -> list[str]:
    """``names`` ordered low → mid → high frequency category, keeping their order within one."""
    order = list(CATEGORIES)
    return sorted(names, key=lambda name: order.index(category_of(name)))


def plot_heatmap(m: dict[str, Any], path: Path) -> Path:
    """Accuracy per corruption (rows, grouped by category) × severity (columns)."""
    names, sevs = by_category(m["corruptions"]), [str(s) for s in m["severities"]]
    table = [[m["accuracy"][c][s] for s in sevs] for c in names]
    with plotting.figure(path, 1.2 + 0.8 * len(sevs), 0.6 + 0.38 * len(names)) as (fig, ax):
        image = ax.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(sevs)), sevs)
        ax.set_yticks(range(len(names)), [f"{c} ({category_of(c)})" for c in names])
        for label, name in zip(ax.get_yticklabels(), names, strict=True):
            label.set_color(CATEGORY_COLOURS[category_of(name)])
        for i in range(1, len(names)):  # a line between categories
            if category_of(names[i]) != category_of(names[i - 1]):
                ax.axhline(i - 0.5, color="white", lw=2)
        for i, row in enumerate(table):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.5 else "black")
        ax.set_xlabel("severity")
        ax.set_title(f"accuracy under corruption (clean {m['clean_accuracy']:.3f})")
        fig.colorbar(image, ax=ax, label="accuracy")
    return path


def plot_categories(m: dict[str, Any], path: Path) -> Path:
    """Clean accuracy, the low / mid / high category means and the overall mean as bars."""
    labels = ["clean", *CATEGORIES, "overall"]
    values = [m["clean_accuracy"], *(m["category_mean"][k] for k in CATEGORIES), m["overall_mean"]]
    with plotting.figure(path, 5, 3.2) as (_, ax):
        ax.bar(labels, [0 if v is None else v for v in values],
               color=["grey", *CATEGORY_COLOURS.values(), "black"])
        for i, v in enumerate(values):
            ax.text(i, 0.01 if v is None else v + 0.01, _acc(v), ha="center", fontsize=8)
        ax.set_ylim(0, 1.08)
        ax.set_ylabel("mean accuracy")
        ax.set_title("accuracy by spectral category")
    return path


def plot_noise_sweep(m: dict[str, Any], path: Path) -> Path:
    sweep = m["noise_sweep"]
    with plotting.figure(path, 5, 3.2) as (_, ax):
        ax.plot(sweep["std"], sweep["accuracy"], marker="o")
        ax.set_xlabel("Gaussian noise std ([0, 1] pixel units)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.02)
        ax.set_title("Gaussian-noise sweep")
    return path


def plot(result: ProbeResult, out_dir: Path) -> list[Path]:
    """corruptions_heatmap.png, corruptions_categories.png and corruptions_noise_sweep.png."""
    m = result.metrics
    paths = [plot_heatmap(m, out_dir / "corruptions_heatmap.png")] if m["corruptions"] else []
    paths.append(plot_categories(m, out_dir / "corruptions_categories.png"))
    if m["noise_sweep"]["std"]:
        paths.append(plot_noise_sweep(m, out_dir / "corruptions_noise_sweep.png"))
    return paths


def markdown(result: ProbeResult, plots: list[Path]) -> str:
    """The report.md section: accuracy table (grouped by category), means, noise sweep, mCE."""
    m = result.metrics
    sevs = [str(s) for s in m["severities"]]
    grey = " (greyscale)" if m["grey"] else ""
    lines = [f"## Corruptions{grey}", "",
             f"Source: {m['source']}; {m['n_images']} images per corruption and severity; "
             f"clean accuracy {_acc(m['clean_accuracy'])} on {m['n_clean_images']} images.", ""]
    if m.get("parameter_table"):
        t = m["parameter_table"]
        lines += [f"Generated with the {t['reference_size']} px parameter table "
                  f"(pixel lengths × {t['scale']:.3f}).", ""]
    lines += ["| corruption | category | " + " | ".join(f"s{s}" for s in sevs) + " | mean |",
              "|---|---|" + "---|" * (len(sevs) + 1)]
    for c in by_category(m["corruptions"]):
        row = " | ".join(_acc(m["accuracy"][c][s]) for s in sevs)
        lines.append(f"| {c} | {category_of(c)} | {row} | {_acc(m['corruption_mean'][c])} |")
    lines.append("| **severity mean** | | " + " | ".join(_acc(m["severity_mean"][s]) for s in sevs)
                 + f" | **{_acc(m['overall_mean'])}** |")
    cat = m["category_mean"]
    lines += ["", "| clean | low | mid | high | overall |", "|---|---|---|---|---|",
              f"| {_acc(m['clean_accuracy'])} | {_acc(cat['low'])} | {_acc(cat['mid'])} | "
              f"{_acc(cat['high'])} | {_acc(m['overall_mean'])} |"]
    sweep = m["noise_sweep"]
    if sweep["std"]:
        lines += ["", "Gaussian-noise sweep:", "",
                  "| std | " + " | ".join(f"{s:g}" for s in sweep["std"]) + " |",
                  "|---|" + "---|" * len(sweep["std"]),
                  "| accuracy | " + " | ".join(_acc(a) for a in sweep["accuracy"]) + " |"]
    rel = m.get("relative_error")
    if rel:
        lines += ["", f"Against baseline {rel['baseline']} (clean {_acc(rel['baseline_clean_accuracy'])}): "
                  f"mCE {_acc(rel['mce'])}, relative mCE {_acc(rel['relative_mce'])}."]
        if rel["missing"]:
            lines.append(f"Not in the baseline: {', '.join(rel['missing'])}.")
    lines += [f"\n![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines)


def summary_rows(result: ProbeResult) -> list[tuple[str, str]]:
    """Terminal summary rows."""
    m = result.metrics
    cat = m["category_mean"]
    rows = [("corruptions clean accuracy", _acc(m["clean_accuracy"])),
            ("corruptions mean accuracy", _acc(m["overall_mean"])),
            ("corruptions low / mid / high", f"{_acc(cat['low'])} / {_acc(cat['mid'])} / {_acc(cat['high'])}")]
    if m.get("relative_error"):
        rows.append(("corruptions mCE vs baseline", _acc(m["relative_error"]["mce"])))
    return rows
