"""The adversarial-spectrum probe's figures (mean power spectrum, radial profile), report.md
section and terminal rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robaudit import plotting
from robaudit.attacks.protocols import STEPPED, step_fields
from robaudit.formatting import fmt
from robaudit.probes.base import ProbeResult

NAME = "adversarial_spectrum"
SUSPECT = "⚠ suspect"


def plot_power_spectrum(power: np.ndarray, path: Path, title: str) -> Path:
    """log10 of the mean perturbation power (H, W), unshifted as stored, shown centred.

    np.fft.fftshift here only re-orders the stored bins for display (DC to the middle); no
    transform is computed outside robaudit.spectral.
    """
    h, w = power.shape
    shown = np.fft.fftshift(power)
    positive = shown[shown > 0]
    floor = positive.min() if len(positive) else 1.0
    with plotting.figure(path, 4.8, 4.2) as (fig, ax):
        extent = (-0.5 - 0.5 / w, 0.5 - 0.5 / w, 0.5 - 0.5 / h, -0.5 - 0.5 / h)
        image = ax.imshow(np.log10(np.maximum(shown, floor)), extent=extent, cmap="magma")
        fig.colorbar(image, ax=ax, label="log10 power (DC dropped)")
        ax.set_xlabel("fx (cycles/pixel)")
        ax.set_ylabel("fy (cycles/pixel)")
        ax.set_title(title)
    return path


def plot_radial_profile(radii: np.ndarray, cumulative: np.ndarray, f05: float | None,
                        ci: tuple[float | None, float | None], path: Path, title: str) -> Path:
    """R(a) against radial frequency a (cpp) with f_0.5 and its bootstrap interval marked."""
    with plotting.figure(path, 6.0, 4.0) as (_, ax):
        ax.plot(radii, cumulative, "-", color="tab:blue", lw=1.5, label="R(a): cumulative power")
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        if f05 is not None:
            ax.axvline(f05, color="k", ls="--", label=f"f_0.5 = {f05:.3f} cpp ({f05 / 0.5:.3f} Nyquist)")
        if ci[0] is not None and ci[1] is not None:
            ax.axvspan(ci[0], ci[1], color="k", alpha=0.1, label="95 % bootstrap interval")
        ax.axvline(0.5, color="tab:red", lw=0.8, alpha=0.5, label="Nyquist (0.5 cpp)")
        ax.set_xlabel("radial frequency a (cycles/pixel)")
        ax.set_ylabel("fraction of perturbation power with r ≤ a")
        ax.set_xlim(0, max(0.72, float(radii.max()) if len(radii) else 0.72))
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right")
        ax.set_title(title)
    return path


def plot(result: ProbeResult, out_dir: Path) -> list[Path]:
    """adversarial_spectrum_power.png and adversarial_spectrum_radial.png."""
    a, m = result.arrays, result.metrics
    mode = "targeted" if m["targeted"] else "untargeted"
    label = f"{m['norm']} {mode}, {m['n_success']} images"
    f05 = m["f_05"]["cycles_per_pixel"]
    return [
        plot_power_spectrum(np.asarray(a["power_spectrum"]), out_dir / f"{NAME}_power.png",
                            f"Mean power spectrum of minimal perturbations ({label})"),
        plot_radial_profile(np.asarray(a["radii_cpp"]), np.asarray(a["cumulative"]), f05["value"],
                            (f05["ci_low"], f05["ci_high"]), out_dir / f"{NAME}_radial.png",
                            f"Radial cumulative power ({label})"),
    ]


def _stats(stats: dict[str, Any] | None) -> str:
    if not stats or stats["median"] is None:
        return "null"
    return f"median {fmt(stats['median'], '.4g')}, mean {fmt(stats['mean'], '.4g')} ± {fmt(stats['std'], '.4g')}"


STEPPED_LABELS = {"fmn": "FMN", "ddn": "DDN", "brendel_bethge": "Brendel–Bethge"}
"""Names on the card of the attacks a protocol may give their own step count (protocols.STEPPED)."""


def _own_steps(p: dict[str, Any]) -> str:
    """' (FMN N, Brendel–Bethge M)' for attacks the protocol gives their own step count in this
    search (targeted or not), else ''. Reports written before a field existed lack it."""
    own = []
    for attack in STEPPED:
        counts = [p[f] for f in step_fields(attack, p.get("targeted") is not False) if p.get(f) is not None]
        if counts and attack in p["attacks"]:
            own.append(f"{STEPPED_LABELS[attack]} {counts[0]}")
    return f" ({', '.join(own)})" if own else ""


def _near_first(p: dict[str, Any]) -> str:
    """', the first just below the best size' where PGD tries there first, else ''."""
    return ", the first just below the best size" if p.get("pgd_near_first") else ""


def _f05(m: dict[str, Any], unit: str) -> str:
    f = m["f_05"][unit]
    if f["value"] is None:
        return f"null ({m['f_05']['reason']})"
    ci = f" [{fmt(f['ci_low'], '.4g')}, {fmt(f['ci_high'], '.4g')}]" if f["ci_low"] is not None else ""
    return f"{fmt(f['value'], '.4g')}{ci}"


def summary_rows(result: ProbeResult) -> list[tuple[str, str]]:
    """(metric, value) rows for the terminal table; suspect numbers are marked."""
    m = result.metrics
    mark = f" ({SUSPECT})" if m["suspect"] else ""
    rows = [
        ("adversarial f_0.5 (cpp)", _f05(m, "cycles_per_pixel") + mark),
        ("adversarial f_0.5 (Nyquist fraction)", _f05(m, "nyquist_fraction") + mark),
        (f"adversarial minimal {m['norm']} size", _stats(m["size"]) + mark),
    ]
    if m.get("size_255"):
        rows.append(("adversarial minimal linf size (/255)", _stats(m["size_255"]) + mark))
    rows.append(("adversarial success rate", f"{m['success_rate']:.1%} of {m['n_attacked']}"))
    return rows


def markdown(result: ProbeResult, plots: list[Path]) -> str:
    """The probe's report section: protocol, f_0.5, sizes, attack bookkeeping, sanity checks."""
    m = result.metrics
    p = m["protocol"]
    mode = "targeted (seeded random wrong class)" if m["targeted"] else "untargeted"
    lines = ["## Adversarial spectrum: minimal perturbations and f_0.5", ""]
    if m["suspect"]:
        failed = ", ".join(k for k, v in m["sanity"].items() if v)
        lines += [f"**{SUSPECT}: sanity checks failed ({failed}).** The sizes and f_0.5 below "
                  "may be overestimates (e.g. gradient masking); do not compare them with other "
                  "models.", ""]
    overrides = f"; overridden: {', '.join(p['overrides'])}" if p["overrides"] else ""
    lines += [
        f"Protocol `{p['name']}` ({mode}, {m['norm']}): attacks {', '.join(p['attacks'])}; "
        f"{p['steps']} steps{_own_steps(p)}, {p['restarts']} restart(s), PGD bisection "
        f"{p['bisection_steps']} × {p['pgd_steps']} steps{_near_first(p)}{overrides}.",
        f"{m['n_attacked']} correctly classified images attacked ({m['n_skipped']} "
        f"misclassified skipped); success rate {m['success_rate']:.1%}.", "",
        "| metric | value |", "|---|---|",
        f"| f_0.5 (cycles/pixel) [95 % bootstrap] | {_f05(m, 'cycles_per_pixel')} |",
        f"| f_0.5 (Nyquist fraction) | {_f05(m, 'nyquist_fraction')} |",
        f"| minimal {m['norm']} size | {_stats(m['size'])} |",
    ]
    if m.get("size_255"):
        lines.append(f"| minimal linf size (×1/255) | {_stats(m['size_255'])} |")
    winners = ", ".join(f"{k} {v}" for k, v in m["winner_counts"].items())
    lines += [
        f"| winning attack (images) | {winners} |",
        f"| rejected candidates (failed verification) | {m['rejected_candidates']} |",
        f"| forward / backward passes (image-passes) | {m['passes']['forward']} / "
        f"{m['passes']['backward']} |",
        "", "| sanity check | result |", "|---|---|",
    ]
    lines += [f"| {name} | {'**FAILED**' if on else 'ok'} |" for name, on in m["sanity"].items()]
    lines += [f"\n![adversarial spectrum]({path.name})" for path in plots]
    return "\n".join(lines)
