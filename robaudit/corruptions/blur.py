"""Mid-frequency blur corruptions: defocus (disk), glass (local pixel shuffling), motion, zoom.

x: (N, C, H, W) float in [0, 1] on any device; pixel-unit parameters are multiplied by
``s.scale`` (image side / reference side).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from robaudit import spectral
from robaudit.corruptions import _ops
from robaudit.corruptions.constants import Setting


def disk_kernel(radius: float, alias_blur: float) -> Tensor:
    """The reference's anti-aliased disk: a {X²+Y² ≤ r²} disk on a 17×17 grid (or (2r+1)² for
    r > 8), normalised, then cv2.GaussianBlur (3×3, or 5×5 for r > 8, σ = alias_blur, border
    reflect-101). Returns (K, K) float64."""
    half = 8 if radius <= 8 else math.ceil(radius)
    ksize = 3 if radius <= 8 else 5
    t = torch.arange(-half, half + 1, dtype=torch.float64)
    disk = ((t[:, None] ** 2 + t[None, :] ** 2) <= radius**2).double()
    disk = disk / disk.sum()
    u = torch.arange(ksize, dtype=torch.float64) - (ksize - 1) / 2
    taps = torch.exp(-(u**2) / (2 * alias_blur**2))
    taps = taps / taps.sum()
    # float32 as OpenCV does for the float32 disk
    blurred = _ops.separable_filter(disk.float()[None, None], taps, taps, "mirror")
    return blurred[0, 0].double()


def defocus_blur(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Each channel correlated with :func:`disk_kernel` (cv2.filter2D, border reflect-101);
    via FFT, which is faster than direct convolution for these large kernels."""
    radius, alias = s.params
    kernel = disk_kernel(radius * s.scale, alias * s.scale).to(x)
    r = (kernel.shape[0] - 1) // 2
    h, w = x.shape[-2:]
    y = x.index_select(2, _ops.pad_index(h, r, "mirror", x.device))
    y = y.index_select(3, _ops.pad_index(w, r, "mirror", x.device))
    return spectral.correlate_valid(y, kernel).clamp_(0.0, 1.0)


def _shuffle_pass(packed: Tensor, shape: tuple[int, int, int], delta: int, g: torch.Generator) -> Tensor:
    """One pass of the reference's local "swap" over packed (N·H·W,) pixels.

    The reference visits (h, w) in reverse raster order over [δ+1, H−δ] × [δ+1, W−δ] and runs
    ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` with (h', w') = (h + dy, w + dx), dy, dx drawn from
    randint(−δ, δ). On numpy views that statement *copies* x[h', w'] into x[h, w] and leaves
    x[h', w'] as it was, so each pixel takes the current value of its source: the final value
    if the source was visited before (a larger raster index), else the original. That recursion
    is resolved here for all pixels at once by pointer jumping (log₂ of the longest chain rounds),
    which reproduces the reference's law exactly with whole-batch 1-D index operations."""
    n, h, w = shape
    dev = packed.device
    rows = torch.arange(delta + 1, h - delta + 1, dtype=torch.int32)
    cols = torch.arange(delta + 1, w - delta + 1, dtype=torch.int32)
    # (dy, dx) uniform on [−δ, δ)², drawn as one integer per pixel
    code = torch.randint(0, 4 * delta * delta, (n, len(rows), len(cols)), generator=g, dtype=torch.int32)
    dy, dx = code // (2 * delta) - delta, code % (2 * delta) - delta
    sr, sc = rows[None, :, None] + dy, cols[None, None, :] + dx  # source row and column
    visited = (sr >= delta + 1) & (sr <= h - delta) & (sc >= delta + 1) & (sc <= w - delta)
    visited &= (dy > 0) | ((dy == 0) & (dx > 0))  # visited earlier in reverse raster order
    base = (torch.arange(n) * (h * w))[:, None, None]
    p = (base + rows[None, :, None].long() * w + cols[None, None, :]).flatten()
    s = (base + sr.long() * w + sc).flatten()
    follow = visited.flatten()
    p, s, follow = p.to(dev), s.to(dev), follow.to(dev)
    nxt = torch.arange(n * h * w, device=dev).index_copy_(0, p, torch.where(follow, s, p))
    term = torch.arange(n * h * w, device=dev).index_copy_(0, p, s)
    while True:  # pointer jumping: every pixel finds the end of its chain of copies
        jumped = nxt.index_select(0, nxt)
        if torch.equal(jumped, nxt):
            break
        nxt = jumped
    return packed.index_select(0, term.index_select(0, nxt))


def _pack(x: Tensor) -> Tensor:
    """(N, C, H, W) uint8 levels in [0, 1] → (N·H·W,) int32 with one byte per channel."""
    levels = torch.round(x * 255).to(torch.int32)
    shifts = (8 * torch.arange(x.shape[1], device=x.device, dtype=torch.int32)).view(1, -1, 1, 1)
    return (levels << shifts).sum(dim=1, dtype=torch.int32).reshape(-1)


def _unpack(packed: Tensor, shape: tuple[int, int, int, int]) -> Tensor:
    n, c, h, w = shape
    shifts = (8 * torch.arange(c, device=packed.device, dtype=torch.int32)).view(1, -1, 1, 1)
    levels = (packed.view(n, 1, h, w) >> shifts) & 255
    return levels.float() / 255.0


def glass_blur(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Gaussian blur, uint8 truncation, ``iterations`` local shuffling passes (see
    :func:`_shuffle_pass`), Gaussian blur again (skimage mode 'nearest', truncate 4)."""
    sigma, max_delta, iterations = s.params
    sigma = sigma * s.scale
    delta = max(1, int(round(max_delta * s.scale)))
    y = torch.floor(_ops.gaussian_blur(x, sigma) * 255.0 + 1e-3) / 255.0
    n, c, h, w = y.shape
    packed = _pack(y)
    for _ in range(iterations):
        packed = _shuffle_pass(packed, (n, h, w), delta, g)
    out = _ops.gaussian_blur(_unpack(packed, (n, c, h, w)).to(x.dtype), sigma)
    return out.clamp_(0.0, 1.0)


def motion_blur(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """imagecorruptions' motion blur at a uniform(−45°, 45°) angle per image (for the 32/64 px
    tables too, whose scripts used ImageMagick's MotionBlurImage)."""
    radius, sigma = s.params
    angles = _ops.uniform((x.shape[0],), -45.0, 45.0, g)
    out = _ops.motion_blur(x, radius * s.scale, sigma * s.scale, angles)
    return out.clamp_(0.0, 1.0)


def zoom_factors(s: Setting) -> np.ndarray:
    """The zoom factors np.arange(1, max, step) of the reference."""
    top, step = s.params
    return np.arange(1, top, step)


def zoom_blur(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Mean of x and its centre zooms by each factor (trimmed centred for 32/64 px as the
    published scripts, top-left for 224 px as imagecorruptions)."""
    factors = zoom_factors(s)
    x = x.contiguous(memory_format=torch.channels_last)  # bilinear resizing is faster so
    out = x.clone()
    for z in factors:
        out += _ops.clipped_zoom(x, float(z), centre_trim=s.ref != 224)
    return (out / (len(factors) + 1)).clamp_(0.0, 1.0).contiguous()
