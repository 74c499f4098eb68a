"""High-frequency corruptions: Gaussian, shot (Poisson) and impulse (salt-and-pepper) noise.

x: (N, C, H, W) float in [0, 1] on any device; random draws come from the CPU generator ``g``
(shot noise's in parallel blocks, :mod:`robaudit.corruptions.streams`) and are moved to x's
device, so a seed gives the same images on every device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from robaudit.corruptions import streams
from robaudit.corruptions.constants import Setting


def gaussian_noise(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """x + N(0, c²) per value, clipped (std c in [0, 1] units)."""
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
    return (x + noise * float(s.params)).clamp_(0.0, 1.0)


def shot_noise(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Poisson(x·c) / c per value, clipped (c photons per unit intensity)."""
    c = float(s.params)
    counts = streams.poisson((x * c).float().cpu(), g)
    return (counts / c).to(x.device, x.dtype).clamp_(0.0, 1.0)


def impulse_noise(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """skimage ``random_noise(mode='s&p')``: each value is flipped with probability c, to 1 or 0
    with equal odds, independently per channel."""
    flip = torch.rand(x.shape, generator=g) < float(s.params)
    salt = torch.rand(x.shape, generator=g) < 0.5
    flip, salt = flip.to(x.device), salt.to(x.device)
    return torch.where(flip, salt.to(x.dtype), x)
