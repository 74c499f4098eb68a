"""High-frequency corruptions: Gaussian, shot (Poisson) and impulse (salt-and-pepper) noise.

x: (N, C, H, W) float in [0, 1] on any device; random draws come from the CPU generator ``g``
and are moved to x's device, so a seed gives the same images on every device.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from robaudit.corruptions.constants import Setting

MIN_VALUES_PER_THREAD = 2**16


def gaussian_noise(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """x + N(0, c²) per value, clipped (std c in [0, 1] units)."""
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
    return (x + noise * float(s.params)).clamp_(0.0, 1.0)


def shot_noise(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """Poisson(x·c) / c per value, clipped (c photons per unit intensity)."""
    c = float(s.params)
    counts = poisson_per_image((x * c).float().cpu(), g)
    return (counts / c).to(x.device, x.dtype).clamp_(0.0, 1.0)


def poisson_per_image(rates: Tensor, g: torch.Generator) -> Tensor:
    """Poisson draws for rates (N, ...) ≥ 0 on the CPU, float32 of the same shape. Each image
    draws from its own generator, seeded from ``g``, so the result depends on ``g`` alone and not
    on how many threads draw it. torch's CPU Poisson sampler is serial (about 10 ms per 224-px
    image, most of the corruption suite's CPU-side time on a GPU), so the images are drawn in
    parallel over torch's intra-op threads, each drawing at least MIN_VALUES_PER_THREAD values
    (below that a thread costs more than it saves: 1.3× the serial time for 16 images at 32 px)."""
    seeds = torch.randint(0, 2**62, (len(rates),), generator=g).tolist()
    counts = torch.empty_like(rates)

    def draw(i: int) -> None:
        counts[i] = torch.poisson(rates[i], generator=torch.Generator().manual_seed(seeds[i]))

    workers = max(1, min(len(rates), torch.get_num_threads(), rates.numel() // MIN_VALUES_PER_THREAD))
    if workers == 1:
        for i in range(len(rates)):
            draw(i)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(draw, range(len(rates))))  # list(): re-raises a worker's exception
    return counts


def impulse_noise(x: Tensor, s: Setting, g: torch.Generator) -> Tensor:
    """skimage ``random_noise(mode='s&p')``: each value is flipped with probability c, to 1 or 0
    with equal odds, independently per channel."""
    flip = torch.rand(x.shape, generator=g) < float(s.params)
    salt = torch.rand(x.shape, generator=g) < 0.5
    flip, salt = flip.to(x.device), salt.to(x.device)
    return torch.where(flip, salt.to(x.dtype), x)
