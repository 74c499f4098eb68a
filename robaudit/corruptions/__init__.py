"""The 15 common corruptions (Hendrycks & Dietterich 2019) as batched tensor code.

``apply_corruption(x, name, severity, generator)`` corrupts x (N, C, H, W) float in [0, 1]
(C = 1 or 3, any device) and returns the same shape, clipped to [0, 1] and snapped to uint8
levels as the reference scripts' uint8 output. Parameters come from the published table of the
nearest reference size (32 / 64 / 224 px; see :mod:`robaudit.corruptions.constants`).
All randomness is drawn from ``generator`` (a CPU torch.Generator): same seed, same images.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from robaudit.corruptions import blur, digital, memo, noise, weather
from robaudit.corruptions._ops import quantise
from robaudit.corruptions.constants import Setting, setting
from robaudit.registry import Registry

CorruptionFn = Callable[[Tensor, Setting, torch.Generator], Tensor]

CATEGORIES: dict[str, tuple[str, ...]] = {
    "low": ("snow", "frost", "fog", "brightness", "contrast"),
    "mid": ("motion_blur", "zoom_blur", "defocus_blur", "glass_blur", "elastic_transform",
            "jpeg_compression", "pixelate"),
    "high": ("gaussian_noise", "shot_noise", "impulse_noise"),
}
"""The spectral grouping of the corruptions (docs/metrics.md)."""

# The canonical order of the CIFAR-10-C / ImageNet-C release.
CORRUPTION_NAMES: tuple[str, ...] = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
    "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
    "elastic_transform", "pixelate", "jpeg_compression",
)

CORRUPTIONS: Registry[CorruptionFn] = Registry("corruption")
_ROUNDED = {"pixelate", "jpeg_compression"}  # the reference returns PIL (rounded) images

for _module in (noise, blur, weather, digital):
    for _name in CORRUPTION_NAMES:
        if hasattr(_module, _name):
            CORRUPTIONS.register(_name)(getattr(_module, _name))


def category_of(name: str) -> str:
    """'low', 'mid' or 'high' for a corruption name."""
    for category, names in CATEGORIES.items():
        if name in names:
            return category
    raise KeyError(name)


def apply_corruption(
    x: Tensor, name: str, severity: int, generator: torch.Generator, ref: int | None = None
) -> Tensor:
    """Corrupt x (N, C, H, W) float in [0, 1] with ``name`` at ``severity`` (1–5).

    ``ref`` forces the parameter table (32, 64 or 224) unscaled; by default the nearest to
    min(H, W), with pixel lengths scaled by min(H, W) / reference.
    Returns (N, C, H, W) in [0, 1] on x's device, quantised to uint8 levels."""
    if x.ndim != 4 or x.shape[1] not in (1, 3) or not x.is_floating_point():
        raise ValueError(f"expected float (N, C, H, W) with C in (1, 3), got {tuple(x.shape)}")
    fn = CORRUPTIONS.get(name)
    s = setting(name, severity, x.shape[2], x.shape[3], ref)

    def make() -> Tensor:
        return quantise(fn(x.float(), s, generator), "round" if name in _ROUNDED else "floor").to(x.dtype)

    shared = memo.active()  # a sweep shares generated chunks between models of one process
    return make() if shared is None else shared.get_or_make(make, x, name, severity, generator, ref)


__all__ = [
    "CATEGORIES",
    "CORRUPTIONS",
    "CORRUPTION_NAMES",
    "apply_corruption",
    "category_of",
    "setting",
]
