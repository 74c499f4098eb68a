"""Batched building blocks shared by the corruptions: quantisation, separable Gaussian blur,
the reference's motion blur, clipped zoom, greyscale and resampling matrices.

All take and return float tensors (N, C, H, W) unless stated. These are hand-written (rather than
taken from torchvision/kornia) because they must reproduce scipy/skimage/OpenCV/PIL boundary and
kernel conventions that the reference scripts rely on; each function names the one it mirrors.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from robaudit import spectral
from robaudit.colour import to_grey  # noqa: F401  (the corruptions call _ops.to_grey)


def quantise(x: Tensor, mode: str = "floor") -> Tensor:
    """Clip to [0, 1] and snap to uint8 levels: 'floor' as ``np.uint8(img)`` on the reference's
    float output, 'round' where the reference returns a PIL image (rounded by PIL)."""
    y = x.clamp(0.0, 1.0) * 255.0
    y = torch.floor(y + 1e-3) if mode == "floor" else torch.round(y)
    return y.div_(255.0)


def gauss_taps(sigma: float, truncate: float) -> Tensor:
    """scipy.ndimage's 1-D Gaussian: radius int(truncate·σ + 0.5), normalised, float64 (2r+1,)."""
    if sigma <= 0:
        return torch.ones(1, dtype=torch.float64)
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


def pad_index(n: int, r: int, mode: str, device: torch.device) -> Tensor:
    """Indices (n + 2r,) that pad an axis of length n by r each side.

    mode: 'nearest' (edge, scipy 'nearest'), 'reflect' (scipy 'reflect', d c b a | a b c d)
    or 'mirror' (scipy 'mirror' = OpenCV BORDER_REFLECT_101, d c b | a b c d)."""
    i = torch.arange(-r, n + r, device=device)
    if mode == "nearest":
        return i.clamp(0, n - 1)
    if mode == "reflect":
        i = torch.remainder(i, 2 * n)
        return torch.where(i >= n, 2 * n - 1 - i, i)
    if n == 1:
        return torch.zeros_like(i)
    i = torch.remainder(i, 2 * n - 2)
    return torch.where(i >= n, 2 * n - 2 - i, i)


def _pad_axis(y: Tensor, r: int, dim: int, mode: str) -> Tensor:
    """Pad y (N, C, H, W) by r on both sides of axis ``dim`` (−2 or −1) in ``mode``
    (see :func:`pad_index`); F.pad where it has the mode (much faster on the last axis)."""
    n = y.shape[dim]
    torch_mode = {"nearest": "replicate", "mirror": "reflect"}.get(mode)
    if y.ndim == 4 and torch_mode and (mode == "nearest" or r < n):
        pad = (r, r, 0, 0) if dim in (-1, 3) else (0, 0, r, r)
        return F.pad(y, pad, mode=torch_mode)
    return y.index_select(dim, pad_index(n, r, mode, y.device))


def _correlate_axis(y: Tensor, taps: Tensor, dim: int, mode: str) -> Tensor:
    """Correlate y along ``dim`` with odd ``taps`` as a sum of shifted slices (in-place adds are
    several times faster on the CPU than a single-channel conv2d)."""
    r = (len(taps) - 1) // 2
    if r == 0:
        return y * float(taps[0])
    n = y.shape[dim]
    padded = _pad_axis(y, r, dim, mode)
    out = padded.narrow(dim, 0, n) * float(taps[0])
    for i in range(1, len(taps)):  # loop over taps, batched over images
        out.add_(padded.narrow(dim, i, n), alpha=float(taps[i]))
    return out


def separable_filter(x: Tensor, taps_y: Tensor, taps_x: Tensor, mode: str) -> Tensor:
    """Correlate each channel of x (…, H, W) with taps_y along H and taps_x along W."""
    return _correlate_axis(_correlate_axis(x, taps_y, -2, mode), taps_x, -1, mode)


def gaussian_blur(
    x: Tensor, sigma: float | tuple[float, float], mode: str = "nearest", truncate: float = 4.0
) -> Tensor:
    """skimage.filters.gaussian on each channel (default mode 'nearest', truncate 4)."""
    sy, sx = sigma if isinstance(sigma, tuple) else (sigma, sigma)
    return separable_filter(x, gauss_taps(sy, truncate), gauss_taps(sx, truncate), mode)


def motion_blur(x: Tensor, radius: float, sigma: float, angles: Tensor) -> Tensor:
    """imagecorruptions' ``_motion_blur``: a one-sided Gaussian streak of 2r+1 integer shifts
    along ``angles`` (N,) degrees, with edge replication; taps past the border are dropped.

    The shifted copies are summed as one correlation per image with a sparse (2R+1)² kernel,
    done by FFT (``spectral.correlate_valid``) so the cost does not grow with the radius."""
    n, c, h, w = x.shape
    width = 2 * int(round(radius)) + 1
    k = torch.exp(-(torch.arange(width, dtype=torch.float64) ** 2) / (2 * sigma**2))
    k = k / k.sum()
    rad = torch.deg2rad(angles.double().cpu())
    i = torch.arange(width, dtype=torch.float64)
    dy = -torch.ceil(i[None] * torch.sin(rad)[:, None] - 0.5).long()  # (N, width)
    dx = -torch.ceil(i[None] * torch.cos(rad)[:, None] - 0.5).long()
    inside = ((dy.abs() < h) & (dx.abs() < w)).long().cumprod(dim=1)  # stop at the border
    r = int(max(dy.abs().max(), dx.abs().max()))
    kernel = torch.zeros(n, 2 * r + 1, 2 * r + 1, dtype=torch.float64)
    images = torch.arange(n)[:, None].expand(n, width)
    # out[h, w] = Σ_t k_t · x[h − dy_t, w − dx_t]  ⇔  kernel[r − dy_t, r − dx_t] = k_t
    kernel.index_put_((images, r - dy, r - dx), k[None] * inside, accumulate=True)
    padded = x.index_select(2, pad_index(h, r, "nearest", x.device))
    padded = padded.index_select(3, pad_index(w, r, "nearest", x.device))
    return spectral.correlate_valid(padded, kernel[:, None].to(x))


def clipped_zoom(x: Tensor, factor: float, centre_trim: bool) -> Tensor:
    """Zoom into the centre by ``factor`` ≥ 1, keeping H×W (scipy.ndimage.zoom, order 1).

    Crop ceil(H/z) × ceil(W/z) around the centre, resize to round(·z) with bilinear corners
    aligned (scipy's grid), then keep H×W: centred as in make_cifar_c.py (``centre_trim``) or the
    top-left corner as imagecorruptions does."""
    n, c, h, w = x.shape
    ch, cw = math.ceil(h / factor), math.ceil(w / factor)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = x[:, :, top : top + ch, left : left + cw]
    oh, ow = int(round(ch * factor)), int(round(cw * factor))
    z = F.interpolate(crop, size=(oh, ow), mode="bilinear", align_corners=True)
    t, s = ((oh - h) // 2, (ow - w) // 2) if centre_trim else (0, 0)
    return z[:, :, t : t + h, s : s + w]


def pil_box_matrix(n_in: int, n_out: int) -> np.ndarray:
    """PIL's BOX resampling along one axis as an (n_out, n_in) matrix (ImagingResample's
    precompute_coeffs: box support 0.5 × scale, evaluated at pixel centres, normalised)."""
    scale = n_in / n_out
    fscale = max(scale, 1.0)
    support = 0.5 * fscale
    m = np.zeros((n_out, n_in))
    for o in range(n_out):  # table construction, O(size), not per image
        centre = (o + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        for j in range(lo, hi):
            u = (j - centre + 0.5) / fscale
            m[o, j] = 1.0 if -0.5 < u <= 0.5 else 0.0
        total = m[o].sum()
        if total:
            m[o] /= total
    return m


def pil_nearest_matrix(n_in: int, n_out: int) -> np.ndarray:
    """PIL's NEAREST resize along one axis: output o takes input floor((o + 0.5)·n_in/n_out)."""
    src = np.minimum(((np.arange(n_out) + 0.5) * n_in / n_out).astype(int), n_in - 1)
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), src] = 1.0
    return m


def uniform(shape: tuple[int, ...], lo: float, hi: float, g: torch.Generator) -> Tensor:
    """Uniform [lo, hi) float64 draws on the CPU from ``g`` (callers move them to the device)."""
    return torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo
