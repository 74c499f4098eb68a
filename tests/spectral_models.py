"""Classifiers with a known frequency response for the spectral probes' tests (16×16 grey-on-RGB images)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robaudit import spectral
from robaudit.probes.base import ProbeContext, ResultCache
from tests.conftest import make_imageset, wrap

SIZE = 16
F0, WIDTH = 0.25, 0.04  # the classifier sees only F0 − WIDTH < |f| ≤ F0 + WIDTH (cpp)
EPS = 3.0
AMPLITUDE = 0.1  # of the class pattern in each image


def in_annulus(fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """True where |f| lies in the classifier's band (numpy, from the definition)."""
    r = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    return (r > F0 - WIDTH) & (r <= F0 + WIDTH)


def templates(n_classes: int = 5, seed: int = 0) -> torch.Tensor:
    """(K, 1, S, S) grey patterns whose spectrum lies only in the band, peak amplitude 1."""
    noise = torch.randn(n_classes, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    band = spectral.bandpass(noise, F0 - WIDTH, F0 + WIDTH)
    return band / band.abs().amax(dim=(-2, -1), keepdim=True)


class NearestMeanInBand(nn.Module):
    """Band-pass each channel to the annulus, then the nearest class mean (−distance logits); the
    class means are AMPLITUDE × the patterns, as in :func:`band_dataset`."""

    def __init__(self, patterns: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("templates", AMPLITUDE * patterns.expand(-1, 3, -1, -1).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = spectral.bandpass(x, F0 - WIDTH, F0 + WIDTH).flatten(1)
        return -torch.cdist(seen, self.templates)


class IgnoresInput(nn.Module):
    """Always the same logits, favouring class 0."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.register_buffer("logits", -torch.arange(n_classes, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), -1) + 0 * x.flatten(1)[:, :1]


def band_dataset(patterns: torch.Tensor, per_class: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB images 0.5 + 0.1·template + weak clutter at every frequency, inside [0.35, 0.65]:
    a Fourier perturbation of L2 norm EPS (peak EPS·√2/16 ≈ 0.27) never leaves [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(patterns)).repeat_interleave(per_class)
    clutter = spectral.bandpass(torch.randn(len(labels), 3, SIZE, SIZE, generator=g), 0.0, 0.71) * 0.01
    x = 0.5 + AMPLITUDE * patterns[labels] + clutter
    assert float(x.min()) > 0.35 and float(x.max()) < 0.65
    return (x * 255).round().to(torch.uint8), labels


def context(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, seed: int = 0,
            cache: ResultCache | None = None, n_classes: int | None = None) -> ProbeContext:
    net = wrap(model, tuple(images.shape[1:]), n_classes or int(labels.max()) + 1)  # type: ignore[arg-type]
    return ProbeContext(model=net, data=make_imageset(images, labels), device=torch.device("cpu"),
                        seed=seed, batch_size=512, cache=cache or ResultCache(None, {}))
