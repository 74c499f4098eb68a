"""Low-frequency weather corruptions: snow, frost, fog.

x: (N, C, H, W) float in [0, 1] on any device. The frost textures are the six images shipped
with the imagecorruptions package (from Hendrycks' ImageNet-C repository, Apache-2.0); they are
read from the installed package, so frost needs ``imagecorruptions`` installed.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from robaudit.corruptions import _ops
from robaudit.corruptions.constants import FROST_TEXTURE_SCALE, Setting
from robaudit.errors import RobauditError

FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
# The reference draws randint(5), so frost6.jpg is never used; neither is it here.


def plasma_fractal(n: int, mapsize: int, decay: float, g: torch.Generator) -> Tensor:
    """Diamond-square height maps (N, mapsize, mapsize) in [0, 1], batched over images
    (the reference's ``plasma_fractal``, one independent map per image)."""
    m = torch.zeros(n, mapsize, mapsize, dtype=torch.float64)
    step, wibble = mapsize, 100.0

    def wibbled(a: Tensor) -> Tensor:
        return a / 4 + wibble * _ops.uniform(tuple(a.shape), -wibble, wibble, g)

    while step >= 2:
        half = step // 2
        corner = m[:, 0::step, 0::step]
        acc = corner + torch.roll(corner, -1, dims=1)
        acc = acc + torch.roll(acc, -1, dims=2)
        m[:, half::step, half::step] = wibbled(acc)
        dr = m[:, half::step, half::step]
        ul = m[:, 0::step, 0::step]
        lt = dr + torch.roll(dr, 1, dims=1) + ul + torch.roll(ul, -1, dims=2)
        m[:, 0::step, half::step] = wibbled(lt)
        tt = dr + torch.roll(dr, 1, dims=2) + ul + torch.roll(ul, -1, dims=1)
        m[:, half::step, 0::step] = wibbled(tt)
        step //= 2
        wibble /= decay
    m = m - m.amin(dim=(1, 2), keepdim=True)
    return m / m.amax(dim=(1, 2), keepdim=True)


def fog(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """x + c·fractal, rescaled by max/(max + c) per image. Map size: next power of 2 ≥ max(H, W)
    (= 32 / 64 for CIFAR / Tiny, 256 for 224 px, as the references)."""
    weight, decay = s.params
    n, _, h, w = x.shape
    size = 1 << (max(h, w) - 1).bit_length()
    frac = plasma_fractal(n, size, decay, g)[:, None, :h, :w].to(x)
    top = x.amax(dim=(1, 2, 3), keepdim=True)
    return ((x + weight * frac) * top / (top + weight)).clamp_(0.0, 1.0)


def snow(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Thresholded zoomed Gaussian flakes, motion-blurred at uniform(−135°, −45°), added twice
    (and rotated 180°) to a brightened image."""
    loc, std, zoom, thr, radius, sigma, keep = s.params
    n, c, h, w = x.shape
    layer = (torch.randn((n, 1, h, w), generator=g, dtype=torch.float64) * std + loc).to(x)
    layer = _ops.clipped_zoom(layer, float(zoom), centre_trim=s.ref != 224)
    layer = torch.where(layer < thr, torch.zeros_like(layer), layer).clamp_(0.0, 1.0)
    if s.ref != 224:  # the scripts pass the layer through a uint8 PIL image first
        layer = torch.floor(layer * 255.0 + 1e-3) / 255.0
    angles = _ops.uniform((n,), -135.0, -45.0, g)
    layer = _ops.motion_blur(layer, radius * s.scale, sigma * s.scale, angles)
    layer = torch.round(layer * 255.0) / 255.0
    bright = torch.maximum(x, _ops.to_grey(x) * 1.5 + 0.5)
    y = keep * x + (1 - keep) * bright
    return (y + layer + torch.rot90(layer, 2, dims=(2, 3))).clamp_(0.0, 1.0)


def _frost_dir() -> Path:
    spec = importlib.util.find_spec("imagecorruptions")  # locate without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RobauditError(
            "frost needs the frost textures of the imagecorruptions package; "
            "pip install imagecorruptions==1.1.2 (or leave frost out with --corruptions)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "frost"


@lru_cache(maxsize=8)
def frost_textures(h: int, w: int, fixed_scale: float | None) -> tuple[Tensor, Tensor]:
    """The five textures resized for an H×W image, zero-padded into (5, 3, Hm, Wm) in [0, 1],
    with their sizes (5, 2). ``fixed_scale``: CIFAR/Tiny factor (bilinear); None: cover the
    image × 1.1 (bicubic), as imagecorruptions."""
    from PIL import Image

    textures = []
    for name in FROST_FILES:
        with Image.open(_frost_dir() / name) as im:
            t = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).float() / 255
        th, tw = t.shape[1:]
        if fixed_scale is not None and round(th * fixed_scale) > h and round(tw * fixed_scale) > w:
            size, mode = (round(th * fixed_scale), round(tw * fixed_scale)), "bilinear"
        else:
            f = 1.1 * max(1.0, h / th, w / tw)
            size, mode = (math.ceil(th * f), math.ceil(tw * f)), "bicubic"
        r = F.interpolate(t[None], size=size, mode=mode, align_corners=False)[0]
        textures.append(r.clamp(0.0, 1.0))
    hm, wm = max(t.shape[1] for t in textures), max(t.shape[2] for t in textures)
    stack = torch.zeros(len(textures), 3, hm, wm)
    for i, t in enumerate(textures):
        stack[i, :, : t.shape[1], : t.shape[2]] = t
    sizes = torch.tensor([t.shape[1:] for t in textures])
    return stack, sizes


def frost(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """c0·x + c1·(a random crop of one of five frost textures), clipped."""
    keep, amount = s.params
    n, c, h, w = x.shape
    fixed = FROST_TEXTURE_SCALE[s.ref]
    stack, sizes = frost_textures(h, w, None if fixed is None else fixed * s.scale)
    idx = torch.randint(0, len(FROST_FILES), (n,), generator=g)
    span = (sizes[idx] - torch.tensor([h, w])).clamp(min=1)  # randint(0, span) per axis
    start = (torch.rand(n, 2, generator=g, dtype=torch.float64) * span).long()
    _, _, hm, wm = stack.shape
    base = (torch.arange(h)[:, None] * wm + torch.arange(w)[None]).view(1, 1, -1)
    plane = (idx[:, None] * 3 + torch.arange(3)[None]) * (hm * wm)  # (N, 3)
    offset = start[:, 0] * wm + start[:, 1]
    index = (base + (plane + offset[:, None])[..., None]).reshape(-1)
    crop = stack.reshape(-1).index_select(0, index).view(n, 3, h, w).to(x)
    if c == 1:
        crop = (crop * torch.tensor([0.2989, 0.5870, 0.1140]).to(x).view(1, 3, 1, 1)).sum(1, True)
    return (keep * x + amount * crop).clamp_(0.0, 1.0)
