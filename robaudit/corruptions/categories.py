"""Spectral category of a corruption from the power spectrum of (corrupted − clean).

The spec (§3) groups the 15 corruptions as low / mid / high frequency. Here the grouping is
*measured*: f50, the radial frequency (cpp) below which half of the power of d = corrupted −
clean lies (DC excluded; power pooled over the images and severities given), is compared with
two fixed cut-offs: the geometric midpoints between the group means of f50 measured on
imagecorruptions' own output at 224 px on scikit-image photographs (low 0.026, mid 0.127,
high 0.394 cpp → 0.057 and 0.22). The spec's grouping is by cause, not by this measure: on
that data 11 of 15 land in their spec group; motion_blur and zoom_blur (long blurs at 224 px
remove mostly coarse structure) measure low, snow measures mid and pixelate high
(docs/corruptions.md).
"""

from __future__ import annotations

from torch import Tensor

from robaudit import spectral

LOW_MID_CPP = 0.057
MID_HIGH_CPP = 0.22


def median_frequency(clean: Tensor, corrupted: Tensor) -> float:
    """f50 (cpp) of d = corrupted − clean, both (N, C, H, W): the radial frequency where the
    cumulative power of d, averaged over all N images, reaches one half."""
    power = spectral.power_spectrum(corrupted - clean)
    radii, cumulative = spectral.radial_cumulative(power)
    f50 = spectral.first_crossing(radii, cumulative, 0.5)
    return float(radii[0]) if f50 is None else f50


def spectral_category(f50: float) -> str:
    """'low', 'mid' or 'high' for a median frequency in cpp."""
    if f50 < LOW_MID_CPP:
        return "low"
    return "mid" if f50 < MID_HIGH_CPP else "high"
