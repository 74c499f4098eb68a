"""Fourier heat map (Yin et al. 2019): the error rate under a perturbation along each Fourier basis image.

For every frequency (ky, kx) of the input's DFT grid (the central max_size × max_size for large
inputs), each test image is moved by eps × the real unit-L2 basis image of (ky, kx) with one
seeded random sign per image and channel, clipped to [0, 1] (the model normalises inside), and
classified. The basis images of (ky, kx) and (−ky, −kx) are the same, so each pair is evaluated
once and mirrored. One cached unit per row of the heat map, so a killed run resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from robaudit import spectral
from robaudit.config import setting
from robaudit.corruptions.categories import LOW_MID_CPP, MID_HIGH_CPP
from robaudit.probes.base import PROBES, GridCell, Probe, ProbeContext, ProbeResult
from robaudit.probes.fourier_heatmap import render
from robaudit.probes.fourier_heatmap.section import FourierHeatmapMetrics
from robaudit.seeding import seeded_subset

# Yin et al.'s L2 norms: CIFAR-10 (32 px) and ImageNet (224 px), in [0, 1] pixel units.
SMALL_INPUT_EPS, LARGE_INPUT_EPS, SMALL_INPUT_MAX_SIDE = 4.0, 15.7, 64


def default_eps(height: int, width: int) -> float:
    """Yin et al.'s L2 norm for the input size: 4.0 up to 64 px, 15.7 above."""
    return SMALL_INPUT_EPS if max(height, width) <= SMALL_INPUT_MAX_SIDE else LARGE_INPUT_EPS


@dataclass
class FourierHeatmapSettings:
    eps: float | None = setting(None, help="L2 norm of the Fourier perturbation in [0, 1] pixel units "
                                "(default: 4.0 for inputs up to 64 px, 15.7 above)", flag="fourier-eps", minimum=0)
    max_size: int = setting(63, help="evaluate the central max_size × max_size frequencies of larger inputs",
                            flag="fourier-max-size", minimum=1)
    n_images: int = setting(32, help="test images perturbed at every frequency", flag="n-images", minimum=1)


def frequency_rows(h: int, w: int, max_size: int) -> tuple[Tensor, Tensor, list[list[tuple[int, int, int]]]]:
    """The heat map's row and column DFT indices (fftshift order) and, per row, the frequencies
    it evaluates as (column position, ky, kx): each Hermitian pair once, in the first row holding it."""
    rows = spectral.centred_frequency_indices(h, max_size)
    cols = spectral.centred_frequency_indices(w, max_size)
    seen: set[tuple[int, int]] = set()
    plan = []
    for ky in rows.tolist():
        todo = []
        for j, kx in enumerate(cols.tolist()):
            key = spectral.hermitian_representative(ky, kx, h, w)
            if key not in seen:
                seen.add(key)
                todo.append((j, ky, kx))
        plan.append(todo)
    return rows, cols, plan


def assemble_heatmap(rows: Tensor, cols: Tensor, h: int, w: int, cells: list[GridCell],
                     counts: dict[str, np.ndarray], total: int) -> np.ndarray:
    """The (rows × cols) error map from each row cell's correct counts, every frequency taking
    the value of its evaluated Hermitian partner."""
    value = {}
    for cell in cells:
        for (_, ky, kx), hits in zip(cell.params, counts[cell.key], strict=True):
            value[spectral.hermitian_representative(ky, kx, h, w)] = 1.0 - float(hits) / total
    return np.array([[value[spectral.hermitian_representative(ky, kx, h, w)] for kx in cols.tolist()]
                     for ky in rows.tolist()])


def summarise(error: np.ndarray, fy: np.ndarray, fx: np.ndarray, side: int, clean_accuracy: float) -> dict[str, Any]:
    """Clean and mean error, band means, the peak and the radial profile of an error map
    (rows fy, columns fx in cpp; ``side`` = N sets rings of width 1/N cpp)."""
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    bands = {"low": radius < LOW_MID_CPP, "mid": (radius >= LOW_MID_CPP) & (radius < MID_HIGH_CPP),
             "high": radius >= MID_HIGH_CPP}
    ring = np.rint(radius * side).astype(int)
    rings = np.unique(ring)
    # Highest error first, ties broken by the lowest |f| (then by position).
    peak = np.lexsort((radius.ravel(), -error.ravel()))[0]
    i, j = np.unravel_index(peak, error.shape)
    return {
        "clean_accuracy": clean_accuracy, "clean_error": 1.0 - clean_accuracy,
        "mean_error": float(error.mean()),
        "band_error": {k: float(error[m].mean()) if m.any() else None for k, m in bands.items()},
        "bands": {"low_mid_cpp": LOW_MID_CPP, "mid_high_cpp": MID_HIGH_CPP},
        "peak": {**spectral.both_units(float(radius[i, j])), "fy": float(fy[i]), "fx": float(fx[j]),
                 "error": float(error[i, j])},
        "radial_profile": {"cycles_per_pixel": (rings / side).tolist(),
                           "error": [float(error[ring == k].mean()) for k in rings]},
    }


@PROBES.register("fourier_heatmap")
class FourierHeatmapProbe(Probe):
    name = "fourier_heatmap"
    Settings = FourierHeatmapSettings
    Metrics = FourierHeatmapMetrics
    renderer: ClassVar[Any] = render
    settings: FourierHeatmapSettings

    def run(self, ctx: ProbeContext) -> ProbeResult:
        c, h, w = ctx.data.info.image_size
        eps = self.settings.eps if self.settings.eps is not None else default_eps(h, w)
        indices = seeded_subset(len(ctx.data), self.settings.n_images, ctx.generator("fourier_heatmap", "images"))
        rows, cols, plan = frequency_rows(h, w, self.settings.max_size)
        cells = [GridCell("clean", None)] + [
            GridCell(f"row={ky}", todo) for ky, todo in zip(rows.tolist(), plan, strict=True) if todo]
        widest = max(len(todo) for todo in plan)
        chunk = ctx.chunk_images(widest, 4 * c * h * w)
        transform = partial(self._perturb, ctx, eps, len(indices))
        counts = ctx.evaluate_grid(cells, indices, transform, description="fourier heat map", chunk=chunk)
        error = assemble_heatmap(rows, cols, h, w, cells[1:], counts, len(indices))
        clean_accuracy = float(counts["clean"][0]) / len(indices)
        fy, fx = rows.double() / h, cols.double() / w
        metrics = summarise(error, fy.numpy(), fx.numpy(), max(h, w), clean_accuracy)
        metrics |= {"eps": eps, "n_images": len(indices), "grid_shape": list(error.shape)}
        arrays = {"error": error, "fy": fy.numpy(), "fx": fx.numpy()}
        return ProbeResult(self.name, self.settings_json(), metrics, arrays)

    @staticmethod
    def _perturb(ctx: ProbeContext, eps: float, total: int, x: Tensor, cell: GridCell, start: int) -> Tensor:
        """(k, n, C, H, W): x + eps · sign · basis(ky, kx) for the cell's k frequencies, clipped."""
        n, c, h, w = x.shape
        if cell.params is None:
            return x[None]
        ky = torch.tensor([f[1] for f in cell.params])
        kx = torch.tensor([f[2] for f in cell.params])
        basis = spectral.fourier_basis(h, w, ky, kx).to(x.device)  # (k, H, W)
        # Signs per (frequency, image, channel) from one stream per row, sliced by image position,
        # so they do not depend on the chunk size.
        signs = torch.randint(0, 2, (len(ky), total, c), generator=ctx.generator("fourier_heatmap", cell.key))
        scale = (eps * (2.0 * signs[:, start : start + n] - 1.0)).to(x.device, x.dtype)  # (k, n, C)
        # Written in (k, n, H, W, C) memory order, so each variant is already in the channels-last
        # order the model is fed in (ProbeContext.predict_logits): no copy to reorder it there.
        out = torch.empty((len(ky), n, h, w, c), device=x.device, dtype=x.dtype)
        torch.addcmul(x.permute(0, 2, 3, 1)[None], basis[:, None, :, :, None], scale[:, :, None, None, :], out=out)
        return out.clamp_(0.0, 1.0).permute(0, 1, 4, 2, 3)

