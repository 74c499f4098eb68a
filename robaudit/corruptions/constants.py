"""Per-size parameter tables of the 15 common corruptions, copied from the published scripts.

Sources (github.com/hendrycks/robustness, ImageNet-C/create_c/):
- 32 px: ``make_cifar_c.py`` (CIFAR-10-C / CIFAR-100-C),
- 64 px: ``make_tinyimagenet_c.py`` (Tiny-ImageNet-C),
- 224 px: imagecorruptions 1.1.2 ``corruptions.py`` (the ImageNet-C constants).

Each entry is a list of five parameter tuples, severity 1 first. Lengths are in pixels of the
reference size unless marked as a fraction of the image side; :func:`pick_reference` chooses the
reference size for an image and the scale applied to pixel-unit lengths (see docs/corruptions.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

REFERENCE_SIZES = (32, 64, 224)

Table = dict[int, list[Any]]

# Noise. gaussian: std; shot: photons per unit intensity; impulse: fraction of values flipped.
GAUSSIAN_NOISE: Table = {
    32: [0.04, 0.06, 0.08, 0.09, 0.10],
    64: [0.04, 0.08, 0.12, 0.15, 0.18],
    224: [0.08, 0.12, 0.18, 0.26, 0.38],
}
SHOT_NOISE: Table = {
    32: [500, 250, 100, 75, 50],
    64: [250, 100, 50, 30, 15],
    224: [60, 25, 12, 5, 3],
}
IMPULSE_NOISE: Table = {
    32: [0.01, 0.02, 0.03, 0.05, 0.07],
    64: [0.01, 0.02, 0.05, 0.08, 0.14],
    224: [0.03, 0.06, 0.09, 0.17, 0.27],
}

# Blur. defocus: (disk radius px, anti-alias sigma px); glass: (sigma px, max swap px, iterations);
# motion: (radius px, sigma px); zoom: (max zoom, step) for factors arange(1, max, step).
DEFOCUS_BLUR: Table = {
    32: [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
    64: [(0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)],
    224: [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)],
}
GLASS_BLUR: Table = {
    32: [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)],
    64: [(0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.9, 2, 2)],
    224: [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)],
}
MOTION_BLUR: Table = {
    32: [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)],
    64: [(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)],
    224: [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],
}
ZOOM_BLUR: Table = {
    32: [(1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)],
    64: [(1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)],
    224: [(1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)],
}

# Weather. snow: (mean, std, zoom, threshold, blur radius px, blur sigma px, image weight);
# frost: (image weight, frost weight); fog: (fractal weight, wibble decay).
SNOW: Table = {
    32: [
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ],
    64: [
        (0.1, 0.2, 1, 0.6, 8, 3, 0.8),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.8),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6),
    ],
    224: [
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ],
}
FROST: Table = {
    32: [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)],
    64: [(1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)],
    224: [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)],
}
# How the frost textures are resized: a fixed factor (CIFAR 0.2, Tiny 0.3, bilinear) or, for the
# ImageNet constants, "fit": scaled to cover the image, times 1.1, bicubic (imagecorruptions).
FROST_TEXTURE_SCALE: dict[int, float | None] = {32: 0.2, 64: 0.3, 224: None}
FOG: Table = {
    32: [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)],
    64: [(0.4, 3), (0.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)],
    224: [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)],
}

# Digital. brightness: added to HSV value; contrast: factor; jpeg: quality; pixelate: size factor;
# elastic: (displacement amplitude, smoothing sigma, affine jitter), all fractions of the side.
BRIGHTNESS: Table = {
    32: [0.05, 0.1, 0.15, 0.2, 0.3],
    64: [0.1, 0.2, 0.3, 0.4, 0.5],
    224: [0.1, 0.2, 0.3, 0.4, 0.5],
}
CONTRAST: Table = {
    32: [0.75, 0.5, 0.4, 0.3, 0.15],
    64: [0.4, 0.3, 0.2, 0.1, 0.05],
    224: [0.4, 0.3, 0.2, 0.1, 0.05],
}
JPEG_COMPRESSION: Table = {
    32: [80, 65, 58, 50, 40],
    64: [65, 58, 50, 40, 25],
    224: [25, 18, 15, 10, 7],
}
PIXELATE: Table = {
    32: [0.95, 0.9, 0.85, 0.75, 0.65],
    64: [0.9, 0.8, 0.7, 0.6, 0.5],
    224: [0.6, 0.5, 0.4, 0.3, 0.25],
}
# CIFAR/Tiny: (IMSIZE*a, IMSIZE*b, IMSIZE*c) with uniform(-1, 1) noise → stored (a, b, c).
# imagecorruptions: alpha * gaussian(uniform(-0.005 S, 0.005 S), 0.01 S) → (alpha * 0.005, 0.01, 0).
ELASTIC_TRANSFORM: Table = {
    32: [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)],
    64: [(0, 0, 0.08), (0.05, 0.3, 0.06), (0.1, 0.08, 0.06), (0.1, 0.03, 0.03), (0.16, 0.03, 0.02)],
    224: [(250 * a * 0.005, 0.01, 0.0) for a in (0.05, 0.065, 0.085, 0.1, 0.12)],
}

TABLES: dict[str, Table] = {
    "gaussian_noise": GAUSSIAN_NOISE,
    "shot_noise": SHOT_NOISE,
    "impulse_noise": IMPULSE_NOISE,
    "defocus_blur": DEFOCUS_BLUR,
    "glass_blur": GLASS_BLUR,
    "motion_blur": MOTION_BLUR,
    "zoom_blur": ZOOM_BLUR,
    "snow": SNOW,
    "frost": FROST,
    "fog": FOG,
    "brightness": BRIGHTNESS,
    "contrast": CONTRAST,
    "elastic_transform": ELASTIC_TRANSFORM,
    "pixelate": PIXELATE,
    "jpeg_compression": JPEG_COMPRESSION,
}


@dataclass(frozen=True)
class Setting:
    """The parameters of one corruption at one severity for one image size.

    ``ref``: the reference size (32, 64 or 224) whose table and behaviour are used;
    ``scale``: image side / ref, applied to the pixel-unit lengths of the table.
    """

    name: str
    severity: int
    ref: int
    scale: float
    params: Any


def pick_reference(height: int, width: int, ref: int | None = None) -> tuple[int, float]:
    """(reference size, scale) for an H×W image.

    By default the nearest of 32/64/224 to min(H, W) on a log scale (so 45 px → 32, 46 px → 64,
    119 px → 64, 120 px → 224) with scale = min(H, W) / reference. An explicit ``ref`` uses that
    table unscaled (scale 1), which is what the reference scripts do at any size."""
    if ref is not None:
        if ref not in REFERENCE_SIZES:
            raise ValueError(f"reference size must be one of {REFERENCE_SIZES}, got {ref}")
        return ref, 1.0
    side = min(height, width)
    ref = min(REFERENCE_SIZES, key=lambda r: abs(math.log(side / r)))
    return ref, side / ref


def setting(name: str, severity: int, height: int, width: int, ref: int | None = None) -> Setting:
    """The :class:`Setting` of ``name`` at ``severity`` (1–5) for an H×W image."""
    if not 1 <= severity <= 5:
        raise ValueError(f"severity must be 1..5, got {severity}")
    reference, scale = pick_reference(height, width, ref)
    return Setting(name, severity, reference, scale, TABLES[name][reference][severity - 1])
