"""The bandpass report section (report["probes"]["bandpass"]) as a typed model."""

from __future__ import annotations

from robaudit.report_model import Section, metric, upper_bound
from robaudit.spectral import CORNER_CPP, to_nyquist

MAX_CPP, MAX_NYQUIST = upper_bound(CORNER_CPP), upper_bound(to_nyquist(CORNER_CPP))  # radial frequencies


class HalfwayFrequency(Section):
    """A cut-off where an accuracy curve crosses halfway between chance and clean accuracy;
    null with a reason when the curve never crosses on the grid."""

    cycles_per_pixel: float | None = metric(unit="cycles_per_pixel", label="cut-off (cpp)", ge=0, le=MAX_CPP)
    nyquist_fraction: float | None = metric(unit="nyquist_fraction", label="cut-off (Nyquist)", ge=0, le=MAX_NYQUIST)
    reason: str | None = None


class CriticalBand(Section):
    """The octave band whose band-passed images are classified best."""

    center_cpp: float = metric(unit="cycles_per_pixel", label="critical band centre (cpp)", ge=0, le=MAX_CPP)
    center_nyquist_fraction: float = metric(unit="nyquist_fraction", label="critical band centre (Nyquist)",
                                            ge=0, le=MAX_NYQUIST)
    low_cpp: float
    high_cpp: float
    accuracy: float = metric(unit="fraction", label="critical band accuracy", direction="higher", ge=0, le=1)


class Curves(Section):
    """Accuracy against cut-off (low- and high-pass) and against octave-band centre, in cpp."""

    cutoff_cpp: list[float]
    lowpass_accuracy: list[float]
    highpass_accuracy: list[float]
    band_center_cpp: list[float]
    band_accuracy: list[float]


class BandpassMetrics(Section):
    """report["probes"]["bandpass"]."""

    clean_accuracy: float = metric(unit="fraction", label="clean accuracy (band-pass images)", direction="higher",
                                   ge=0, le=1)
    chance_accuracy: float = metric(unit="fraction", label="chance accuracy (1 / classes)", ge=0, le=1)
    halfway_accuracy: float = metric(unit="fraction", label="halfway between chance and clean accuracy", ge=0, le=1)
    f_lp50: HalfwayFrequency
    f_hp50: HalfwayFrequency
    critical_band: CriticalBand
    curves: Curves
    filter: str
    n_images: int = metric(unit="count", label="images per filtered variant", ge=1)
