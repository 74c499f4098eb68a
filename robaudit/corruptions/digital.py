"""Digital corruptions: brightness, contrast (low frequency), elastic, pixelate, JPEG (mid).

x: (N, C, H, W) float in [0, 1] on any device.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from robaudit.corruptions import _ops
from robaudit.corruptions.constants import Setting


def brightness(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """HSV value + c (clipped), hue and saturation kept (skimage rgb2hsv → hsv2rgb).

    With H and S fixed, hsv2rgb is linear in V, so RGB' = RGB · V'/V; black (V = 0) becomes
    grey V'. For C = 1 this is clip(x + c), as the reference does for grey images."""
    c = float(s.params)
    v = x.amax(dim=1, keepdim=True)
    v_new = (v + c).clamp(0.0, 1.0)
    ratio = v_new / v.clamp(min=1e-12)
    return torch.where(v > 0, x * ratio, v_new.expand_as(x)).clamp_(0.0, 1.0)


def contrast(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """(x − m)·c + m with m the per-image, per-channel mean."""
    m = x.mean(dim=(2, 3), keepdim=True)
    return ((x - m) * float(s.params) + m).clamp_(0.0, 1.0)


@lru_cache(maxsize=32)
def _pixelate_matrix(n: int, factor: float, box_up: bool) -> np.ndarray:
    small = int(n * factor)
    down = _ops.pil_box_matrix(n, small)
    up = _ops.pil_box_matrix(small, n) if box_up else _ops.pil_nearest_matrix(small, n)
    return up, down  # type: ignore[return-value]


def _ranges(m: np.ndarray) -> tuple[Tensor, Tensor]:
    """(lo, hi) per row of a resampling matrix whose rows average one contiguous input range
    (PIL's BOX weights are 0/1 at pixel centres, NEAREST picks one pixel)."""
    nonzero = m > 0
    lo = nonzero.argmax(axis=1)
    hi = m.shape[1] - nonzero[:, ::-1].argmax(axis=1)
    assert np.array_equal(nonzero.sum(axis=1), hi - lo), "not a range-average matrix"
    return torch.from_numpy(lo), torch.from_numpy(hi)


def _range_mean(levels: Tensor, m: np.ndarray, dim: int) -> Tensor:
    """Apply the range-average matrix m (out, in) along ``dim`` via a cumulative sum (exact for
    integer levels in float32), rounded half up as PIL's fixed-point passes."""
    lo, hi = (t.to(levels.device) for t in _ranges(m))
    cum = torch.cumsum(levels, dim=dim)
    cum = torch.cat([torch.zeros_like(cum.narrow(dim, 0, 1)), cum], dim=dim)
    total = cum.index_select(dim, hi) - cum.index_select(dim, lo)
    shape = [1] * levels.ndim
    shape[dim] = -1
    return torch.floor(total / (hi - lo).to(levels.dtype).view(shape) + 0.5)


def _pil_resize(levels: Tensor, my: np.ndarray, mx: np.ndarray) -> Tensor:
    """PIL's separable uint8 resize of levels (N, C, H, W) in 0..255: the horizontal pass, then
    the vertical one, each rounded half up to integers as PIL's fixed-point code does."""
    return _range_mean(_range_mean(levels, mx, -1), my, -2)


def pixelate(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """PIL BOX downsizing to int(side·c), then back up with NEAREST (imagecorruptions, 224 px)
    or BOX (the 32/64 px scripts), with PIL's uint8 rounding after every pass."""
    factor = float(s.params)
    h, w = x.shape[-2:]
    up_y, down_y = _pixelate_matrix(h, factor, s.ref != 224)
    up_x, down_x = _pixelate_matrix(w, factor, s.ref != 224)
    levels = torch.round(x.clamp(0, 1) * 255)
    small = _pil_resize(levels, down_y, down_x)
    return (_pil_resize(small, up_y, up_x) / 255).clamp_(0.0, 1.0)


def jpeg_compression(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Encode/decode with libjpeg at quality c (torchvision.io, batched as a list), on the CPU for any
    device of x: libjpeg is the reference's codec (PIL's), and CUDA's nvjpeg encodes differently."""
    # torchvision pulls in torch._dynamo (≈ 2.5 s); imported here so a run without JPEG doesn't pay it
    from torchvision.io import decode_jpeg, encode_jpeg

    quality = int(s.params)
    u8 = torch.round(x.clamp(0, 1) * 255).to(torch.uint8).cpu()
    decoded = decode_jpeg(encode_jpeg(list(u8.unbind(0)), quality=quality))
    return torch.stack(list(decoded)).to(x.device, x.dtype) / 255.0


def _affine_coords(n: int, h: int, w: int, jitter: float, g: torch.Generator) -> Tensor:
    """Source pixel coordinates (N, H, W, 2) (x, y) of cv2.warpAffine with the scripts' random
    three-point affine: corners of a square around the centre moved by uniform(−j, j)."""
    cx, cy, sq = float(h // 2), float(w // 2), float(min(h, w) // 3)  # as the script's order
    p1 = torch.tensor([[cx + sq, cy + sq], [cx + sq, cy - sq], [cx - sq, cy - sq]], dtype=torch.float64)
    p2 = p1[None] + _ops.uniform((n, 3, 2), -jitter, jitter, g)
    ones = torch.ones(3, 1, dtype=torch.float64)
    a = torch.linalg.solve(torch.cat([p1, ones], 1)[None].expand(n, 3, 3), p2)  # [p,1] @ a = q
    lin, shift = a[:, :2], a[:, 2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    q = torch.stack([xs, ys], -1).reshape(1, h * w, 2)
    p = torch.linalg.solve(lin.transpose(1, 2), (q - shift).transpose(1, 2)).transpose(1, 2)
    return p.reshape(n, h, w, 2)


def _sample(x: Tensor, coords: Tensor, align: bool) -> Tensor:
    """Bilinear sampling of x at pixel coordinates (N, H, W, 2) (x, y) with reflection:
    about edge pixel centres (reflect-101) if ``align`` else about the edges (scipy reflect)."""
    h, w = x.shape[-2:]
    size = torch.tensor([w, h], dtype=coords.dtype, device=coords.device)
    grid = 2 * coords / (size - 1) - 1 if align else (2 * coords + 1) / size - 1
    return F.grid_sample(x, grid.to(x), mode="bilinear", padding_mode="reflection",
                         align_corners=align)


def elastic_transform(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Optional random affine (32/64 px scripts, border reflect-101), then a displacement field
    of Gaussian-smoothed uniform noise (truncate 3, scipy 'reflect'), bilinear resampling."""
    amp, sigma, jitter = s.params
    n, _, h, w = x.shape
    y = x
    if jitter > 0:
        y = _sample(y, _affine_coords(n, h, w, jitter * h, g).to(x.device), align=True)
    if amp > 0:
        noise = _ops.uniform((n, 2, h, w), -1.0, 1.0, g).to(x)
        field = _ops.gaussian_blur(noise, (sigma * h, sigma * w), mode="reflect", truncate=3.0)
        field = field * (amp * h)
        ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype),
                                torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij")
        coords = torch.stack([xs + field[:, 0], ys + field[:, 1]], -1)
        y = _sample(y, coords, align=False)
    return y.clamp(0.0, 1.0)
