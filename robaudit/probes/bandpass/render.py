"""Figure, Markdown and summary rows of the bandpass probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robaudit import plotting
from robaudit.formatting import fmt as _fmt
from robaudit.probes.base import ProbeResult


def _frequency(entry: dict[str, Any]) -> str:
    if entry["cycles_per_pixel"] is None:
        return f"null ({entry['reason']})"
    return f"{entry['cycles_per_pixel']:.4f} cpp ({entry['nyquist_fraction']:.3f} Nyquist)"


def plot(result: ProbeResult, out_dir: Path) -> list[Path]:
    """bandpass_curves.png: low-pass, high-pass and octave-band accuracy against frequency."""
    m = result.metrics
    curves = m["curves"]
    path = out_dir / "bandpass_curves.png"
    with plotting.figure(path, 7.2, 4.0) as (_, ax):
        ax.plot(curves["cutoff_cpp"], curves["lowpass_accuracy"], "o-", ms=3, color="tab:blue",
                label="low-pass (keep |f| ≤ c)")
        ax.plot(curves["cutoff_cpp"], curves["highpass_accuracy"], "s-", ms=3, color="tab:red",
                label="high-pass (keep |f| > c and the mean)")
        ax.plot(curves["band_center_cpp"], curves["band_accuracy"], "^-", ms=4, color="tab:green",
                label="octave band (x = band centre)")
        ax.axhline(m["clean_accuracy"], color="k", ls=":", lw=0.8, label="clean")
        ax.axhline(m["chance_accuracy"], color="grey", ls=":", lw=0.8, label="chance")
        ax.axhline(m["halfway_accuracy"], color="grey", ls="--", lw=0.8, label="halfway")
        for key, colour in (("f_lp50", "tab:blue"), ("f_hp50", "tab:red")):
            value = m[key]["cycles_per_pixel"]
            if value is not None:
                ax.axvline(value, color=colour, ls="--", lw=0.8, label=f"{key} = {value:.3f} cpp")
        ax.set_xscale("symlog", linthresh=0.02, linscale=0.5)
        ax.set_xlim(0, max(curves["cutoff_cpp"] + curves["band_center_cpp"]) * 1.05)
        ax.set_xlabel("cut-off or band centre (cycles/pixel)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(f"Accuracy under {m['filter']} low-, high- and band-pass filtering", fontsize=9)
    return [path]


def markdown(result: ProbeResult, plots: list[Path]) -> str:
    """The probe's report.md section."""
    m = result.metrics
    band, curves = m["critical_band"], m["curves"]
    lines = [
        "## Low-, high- and band-pass accuracy", "",
        f"{m['n_images']} images, {m['filter']} filters; chance {m['chance_accuracy']:.3f}, clean "
        f"{m['clean_accuracy']:.3f}, halfway level {m['halfway_accuracy']:.3f}.",
        "",
        "| metric | value |", "|---|---|",
        f"| f_lp50 (low-pass accuracy reaches halfway) | {_frequency(m['f_lp50'])} |",
        f"| f_hp50 (high-pass accuracy falls to halfway) | {_frequency(m['f_hp50'])} |",
        f"| critical band | {band['low_cpp']:.4f}–{band['high_cpp']:.4f} cpp (centre {band['center_cpp']:.4f}), "
        f"accuracy {band['accuracy']:.3f} |",
        "", "| cut-off (cpp) | low-pass accuracy | high-pass accuracy |", "|---|---|---|",
    ]
    for c, lo, hi in zip(curves["cutoff_cpp"], curves["lowpass_accuracy"], curves["highpass_accuracy"], strict=True):
        lines.append(f"| {c:.4f} | {lo:.3f} | {hi:.3f} |")
    lines += [f"\n![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines)


def summary_rows(result: ProbeResult) -> list[tuple[str, str]]:
    """Terminal summary: f_lp50, f_hp50 and the critical band."""
    m = result.metrics
    band = m["critical_band"]
    return [
        ("bandpass f_lp50 (cpp)", _fmt(m["f_lp50"]["cycles_per_pixel"])),
        ("bandpass f_hp50 (cpp)", _fmt(m["f_hp50"]["cycles_per_pixel"])),
        ("bandpass critical band (cpp)", f"{band['center_cpp']:.4f} (accuracy {band['accuracy']:.3f})"),
    ]
