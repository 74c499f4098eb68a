"""The fourier_heatmap report section (report["probes"]["fourier_heatmap"]) as a typed model."""

from __future__ import annotations

from robaudit.report_model import Section, metric, upper_bound
from robaudit.spectral import CORNER_CPP, to_nyquist

MAX_CPP, MAX_NYQUIST = upper_bound(CORNER_CPP), upper_bound(to_nyquist(CORNER_CPP))  # radial frequencies


class PeakFrequency(Section):
    """Where the heat map's error is highest (ties: the lowest |f|)."""

    cycles_per_pixel: float = metric(unit="cycles_per_pixel", label="|f| of highest Fourier error", ge=0, le=MAX_CPP)
    nyquist_fraction: float = metric(unit="nyquist_fraction", label="|f| of highest Fourier error (Nyquist)",
                                     ge=0, le=MAX_NYQUIST)
    fy: float = metric(unit="cycles_per_pixel", label="vertical frequency of highest error", ge=-0.5, le=0.5)
    fx: float = metric(unit="cycles_per_pixel", label="horizontal frequency of highest error", ge=-0.5, le=0.5)
    error: float = metric(unit="fraction", label="highest Fourier error", direction="lower", ge=0, le=1)


class BandError(Section):
    """Mean heat-map error over the frequencies in each band (null when a band holds none)."""

    low: float | None = metric(unit="fraction", label="mean Fourier error, low band", direction="lower", ge=0, le=1)
    mid: float | None = metric(unit="fraction", label="mean Fourier error, mid band", direction="lower", ge=0, le=1)
    high: float | None = metric(unit="fraction", label="mean Fourier error, high band", direction="lower",
                                ge=0, le=1)


class BandEdges(Section):
    """The band boundaries in cpp: low is |f| < low_mid, mid is low_mid ≤ |f| < mid_high, high the rest."""

    low_mid_cpp: float
    mid_high_cpp: float


class RadialProfile(Section):
    """Mean error in rings of width 1/N cpp (N = the larger input side) centred on j/N."""

    cycles_per_pixel: list[float]
    error: list[float]


class FourierHeatmapMetrics(Section):
    """report["probes"]["fourier_heatmap"]."""

    clean_accuracy: float = metric(unit="fraction", label="clean accuracy (heat-map images)", direction="higher",
                                   ge=0, le=1)
    clean_error: float = metric(unit="fraction", label="clean error (heat-map images)", direction="lower", ge=0, le=1)
    mean_error: float = metric(unit="fraction", label="mean Fourier error over the heat map", direction="lower",
                               ge=0, le=1)
    band_error: BandError
    bands: BandEdges
    peak: PeakFrequency
    radial_profile: RadialProfile
    eps: float = metric(unit="l2", label="Fourier perturbation L2 norm", ge=0)
    n_images: int = metric(unit="count", label="images per frequency", ge=1)
    grid_shape: list[int]
