"""Band-pass probe: accuracy on low-, high- and octave band-pass filtered images.

Low-pass keeps |f| ≤ c, high-pass keeps |f| > c and the image mean (so it stays an image), each
octave band keeps lo < |f| ≤ 2·lo and the mean; every filtered image is clipped to [0, 1].
f_lp50 / f_hp50 are the cut-offs where low-pass accuracy rises to, and high-pass accuracy
falls to, halfway between chance and clean accuracy (bracketed linear interpolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from robaudit import spectral
from robaudit.config import setting
from robaudit.probes.bandpass import render
from robaudit.probes.bandpass.section import BandpassMetrics
from robaudit.probes.base import PROBES, GridCell, Probe, ProbeContext, ProbeResult
from robaudit.seeding import seeded_subset

# The hybrid probe's grid (2023 paper, Nyquist fractions) in cpp, plus the corner of the grid,
# where a low-pass keeps the whole image and a high-pass only its mean.
DEFAULT_CUTOFFS = [0.0, .015, .02, .025, .03, .04, .045, .055, .065, .075, .085, .095, .11, .135, .165, .21, .285,
                   0.5, round(spectral.CORNER_CPP, 4)]


@dataclass
class BandpassSettings:
    filter: str = setting("ideal", help="ideal radial masks (the hybrid probe's) or gaussian responses",
                          flag="bandpass-filter", choices=("ideal", "gaussian"))
    cutoffs: list[float] = setting(help="low-/high-pass cut-offs in cycles per pixel", flag="bandpass-cutoffs",
                                   minimum=0.0, maximum=round(spectral.CORNER_CPP, 4),
                                   factory=lambda: list(DEFAULT_CUTOFFS))
    n_images: int = setting(128, help="test images filtered at every cut-off", flag="n-images", minimum=1)


def halfway_crossing(cutoffs: Tensor, accuracy: Tensor, level: float, rising: bool, clean: float,
                     chance: float) -> dict[str, Any]:
    """f_lp50 (rising) or f_hp50 (falling) in both units, with a reason when null."""
    what = "low-pass accuracy never rises to" if rising else "high-pass accuracy never falls to"
    value: float | None = None
    reason: str | None = f"clean accuracy {clean:.3f} is not above chance {chance:.3f}"
    if clean > chance:
        value = spectral.first_crossing(cutoffs, accuracy, level, rising=rising)
        reason = None if value is not None else (
            f"{what} {level:.3f} (halfway between chance and clean) on this grid; "
            f"it spans {float(accuracy.min()):.3f}–{float(accuracy.max()):.3f}")
    return {**spectral.both_units(value), "reason": reason}


@PROBES.register("bandpass")
class BandpassProbe(Probe):
    name = "bandpass"
    Settings = BandpassSettings
    Metrics = BandpassMetrics
    renderer: ClassVar[Any] = render
    settings: BandpassSettings

    def run(self, ctx: ProbeContext) -> ProbeResult:
        c, h, w = ctx.data.info.image_size
        cutoffs = torch.tensor(sorted(set(self.settings.cutoffs)), dtype=torch.float64)
        band_low, band_high, centres = spectral.octave_bands(1.0 / max(h, w))
        kind = self.settings.filter
        lowest, highest = torch.full_like(cutoffs, -1.0), torch.full_like(cutoffs, math.inf)
        transfers = {
            "lowpass": spectral.radial_transfer(h, w, lowest, cutoffs, kind),
            "highpass": spectral.radial_transfer(h, w, cutoffs, highest, kind, keep_mean=True),
            "bands": spectral.radial_transfer(h, w, band_low, band_high, kind, keep_mean=True),
        }
        cells = [GridCell("clean", None)] + [GridCell(key, t) for key, t in transfers.items()]
        indices = seeded_subset(len(ctx.data), self.settings.n_images, ctx.generator("bandpass", "images"))
        widest = max(len(t) for t in transfers.values())
        chunk = ctx.chunk_images(widest, 4 * c * h * w)
        counts = ctx.evaluate_grid(cells, indices, _filter, description="band-pass filters", chunk=chunk)
        accuracy = {key: torch.from_numpy(v / len(indices)) for key, v in counts.items()}
        clean = float(accuracy["clean"][0])
        chance = 1.0 / ctx.model.info.num_classes
        level = (clean + chance) / 2
        curves = {"cutoff_cpp": cutoffs.tolist(), "lowpass_accuracy": accuracy["lowpass"].tolist(),
                  "highpass_accuracy": accuracy["highpass"].tolist(), "band_center_cpp": centres.tolist(),
                  "band_accuracy": accuracy["bands"].tolist()}
        best = int(np.argmax(accuracy["bands"].numpy()))  # first (lowest) band on ties
        metrics = {
            "clean_accuracy": clean, "chance_accuracy": chance, "halfway_accuracy": level,
            "f_lp50": halfway_crossing(cutoffs, accuracy["lowpass"], level, True, clean, chance),
            "f_hp50": halfway_crossing(cutoffs, accuracy["highpass"], level, False, clean, chance),
            "critical_band": {"center_cpp": float(centres[best]),
                              "center_nyquist_fraction": spectral.to_nyquist(float(centres[best])),
                              "low_cpp": float(band_low[best]), "high_cpp": float(band_high[best]),
                              "accuracy": float(accuracy["bands"][best])},
            "curves": curves,
            "filter": kind, "n_images": len(indices),
        }
        arrays = {name: np.asarray(values, dtype=np.float64) for name, values in curves.items()}
        return ProbeResult(self.name, self.settings_json(), metrics, arrays)



def _filter(x: Tensor, cell: GridCell, start: int) -> Tensor:
    """(k, n, C, H, W): the images under each of the cell's k transfer functions, clipped."""
    if cell.params is None:
        return x[None]
    return spectral.filter_images(x, cell.params.to(x.device))
