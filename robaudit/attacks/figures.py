"""Figures of the adversarial-spectrum probe: mean 2-D power spectrum and radial profile (PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_power_spectrum(power: np.ndarray, path: Path, title: str) -> Path:
    """log10 of the mean perturbation power (H, W), unshifted as stored, shown centred.

    np.fft.fftshift here only re-orders the stored bins for display (DC to the middle); no
    transform is computed outside robaudit.spectral.
    """
    h, w = power.shape
    shown = np.fft.fftshift(power)
    positive = shown[shown > 0]
    floor = positive.min() if len(positive) else 1.0
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=120)
    extent = (-0.5 - 0.5 / w, 0.5 - 0.5 / w, 0.5 - 0.5 / h, -0.5 - 0.5 / h)
    image = ax.imshow(np.log10(np.maximum(shown, floor)), extent=extent, cmap="magma")
    fig.colorbar(image, ax=ax, label="log10 power (DC dropped)")
    ax.set_xlabel("fx (cycles/pixel)")
    ax.set_ylabel("fy (cycles/pixel)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_radial_profile(
    radii: np.ndarray,
    cumulative: np.ndarray,
    f05: float | None,
    ci: tuple[float | None, float | None],
    path: Path,
    title: str,
) -> Path:
    """R(a) against radial frequency a (cpp) with f_0.5 and its bootstrap interval marked."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=120)
    ax.plot(radii, cumulative, "-", color="tab:blue", lw=1.5, label="R(a): cumulative power")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    if f05 is not None:
        label = f"f_0.5 = {f05:.3f} cpp ({f05 / 0.5:.3f} Nyquist)"
        ax.axvline(f05, color="k", ls="--", label=label)
    if ci[0] is not None and ci[1] is not None:
        ax.axvspan(ci[0], ci[1], color="k", alpha=0.1, label="95 % bootstrap interval")
    ax.axvline(0.5, color="tab:red", lw=0.8, alpha=0.5, label="Nyquist (0.5 cpp)")
    ax.set_xlabel("radial frequency a (cycles/pixel)")
    ax.set_ylabel("fraction of perturbation power with r ≤ a")
    ax.set_xlim(0, max(0.72, float(radii.max()) if len(radii) else 0.72))
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
