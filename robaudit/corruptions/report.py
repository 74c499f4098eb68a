"""Figures and Markdown for the corruption probe's metrics (report['probes']['corruptions'])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robaudit.corruptions import category_of


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def plot(m: dict[str, Any], out_dir: Path) -> list[Path]:
    """corruptions_heatmap.png (corruption × severity accuracy), corruptions_categories.png
    (clean, low/mid/high and overall means) and corruptions_noise_sweep.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    names, sevs = m["corruptions"], [str(s) for s in m["severities"]]
    paths = []
    if names:
        table = [[m["accuracy"][c][s] for s in sevs] for c in names]
        fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(sevs), 0.6 + 0.38 * len(names)))
        im = ax.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(sevs)), sevs)
        ax.set_yticks(range(len(names)), [f"{c} ({category_of(c)})" for c in names])
        for i, row in enumerate(table):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v < 0.5 else "black")
        ax.set_xlabel("severity")
        ax.set_title(f"accuracy under corruption (clean {m['clean_accuracy']:.3f})")
        fig.colorbar(im, ax=ax, label="accuracy")
        fig.tight_layout()
        paths.append(out_dir / "corruptions_heatmap.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    labels = ["clean", "low", "mid", "high", "overall"]
    values = [m["clean_accuracy"], *(m["category_mean"][k] for k in ("low", "mid", "high")),
              m["overall_mean"]]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(labels, [0 if v is None else v for v in values],
           color=["grey", "tab:blue", "tab:orange", "tab:red", "black"])
    for i, v in enumerate(values):
        ax.text(i, 0.01 if v is None else v + 0.01, _fmt(v), ha="center", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("mean accuracy")
    ax.set_title("accuracy by spectral category")
    fig.tight_layout()
    paths.append(out_dir / "corruptions_categories.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    sweep = m["noise_sweep"]
    if sweep["std"]:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(sweep["std"], sweep["accuracy"], marker="o")
        ax.set_xlabel("Gaussian noise std ([0, 1] pixel units)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.02)
        ax.set_title("Gaussian-noise sweep")
        fig.tight_layout()
        paths.append(out_dir / "corruptions_noise_sweep.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def markdown(m: dict[str, Any], plots: list[Path]) -> str:
    """The probe's report.md section: tables of accuracy, means, noise sweep, relative error."""
    sevs = [str(s) for s in m["severities"]]
    grey = " (greyscale)" if m["grey"] else ""
    lines = [f"## Corruptions{grey}", "",
             f"Source: {m['source']}; {m['n_images']} images per corruption and severity; "
             f"clean accuracy {_fmt(m['clean_accuracy'])} on {m['n_clean_images']} images.", ""]
    if m.get("parameter_table"):
        t = m["parameter_table"]
        lines += [f"Generated with the {t['reference_size']} px parameter table "
                  f"(pixel lengths × {t['scale']:.3f}).", ""]
    lines += ["| corruption | category | " + " | ".join(f"s{s}" for s in sevs) + " | mean |",
              "|---|---|" + "---|" * (len(sevs) + 1)]
    for c in m["corruptions"]:
        row = " | ".join(_fmt(m["accuracy"][c][s]) for s in sevs)
        lines.append(f"| {c} | {category_of(c)} | {row} | {_fmt(m['corruption_mean'][c])} |")
    lines.append("| **severity mean** | | " + " | ".join(_fmt(m["severity_mean"][s]) for s in sevs)
                 + f" | **{_fmt(m['overall_mean'])}** |")
    cat = m["category_mean"]
    lines += ["", "| clean | low | mid | high | overall |", "|---|---|---|---|---|",
              f"| {_fmt(m['clean_accuracy'])} | {_fmt(cat['low'])} | {_fmt(cat['mid'])} | "
              f"{_fmt(cat['high'])} | {_fmt(m['overall_mean'])} |"]
    sweep = m["noise_sweep"]
    if sweep["std"]:
        lines += ["", "Gaussian-noise sweep:", "",
                  "| std | " + " | ".join(f"{s:g}" for s in sweep["std"]) + " |",
                  "|---|" + "---|" * len(sweep["std"]),
                  "| accuracy | " + " | ".join(_fmt(a) for a in sweep["accuracy"]) + " |"]
    rel = m.get("relative_error")
    if rel:
        lines += ["", f"Against baseline {rel['baseline']} (clean {_fmt(rel['baseline_clean_accuracy'])}): "
                  f"mCE {_fmt(rel['mce'])}, relative mCE {_fmt(rel['relative_mce'])}."]
        if rel["missing"]:
            lines.append(f"Not in the baseline: {', '.join(rel['missing'])}.")
    lines += [f"\n![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines)


def summary_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """Terminal summary rows."""
    cat = m["category_mean"]
    rows = [("corruptions clean accuracy", _fmt(m["clean_accuracy"])),
            ("corruptions mean accuracy", _fmt(m["overall_mean"])),
            ("corruptions low / mid / high", f"{_fmt(cat['low'])} / {_fmt(cat['mid'])} / {_fmt(cat['high'])}")]
    if m.get("relative_error"):
        rows.append(("corruptions mCE vs baseline", _fmt(m["relative_error"]["mce"])))
    return rows
