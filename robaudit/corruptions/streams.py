"""Poisson draws for whole images, split into blocks of images that each draw from their own
generator seeded from one CPU generator ``g``, and drawn in parallel over torch's intra-op threads.

torch's CPU Poisson sampler runs on one thread (about 10 ms per 224-px image), which made it
most of the corruption suite's CPU-side time when the images are on a GPU. Normal and uniform
draws are fast enough on one thread: drawn so, they took 1.0× (224 px) and 1.3–1.4× (32 px) the
time of one draw on 2 cores, so they stay single draws. The blocks depend on the shape alone, so
the draws depend on ``g`` and the shape, never on the thread count; they stay on the CPU, so a
seed gives the same draws on every device.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

BLOCK_VALUES = 2**16
"""Values per seeded block (at least one image): below this a thread costs more than it saves
(Poisson draws per image took 1.3× the serial time for 16 images at 32 px, 0.57× at 224 px)."""


def blocks(shape: tuple[int, ...]) -> list[slice]:
    """Consecutive image ranges of ``shape`` (N, ...), each about BLOCK_VALUES values."""
    per_image = max(1, int(torch.Size(shape[1:]).numel()))
    step = max(1, BLOCK_VALUES // per_image)
    return [slice(i, min(i + step, shape[0])) for i in range(0, shape[0], step)]


def in_blocks(shape: tuple[int, ...], g: torch.Generator, fill: Callable[[slice, torch.Generator], object]) -> None:
    """Call ``fill(images, generator)`` once per block of :func:`blocks`, each block with its own
    generator seeded from ``g`` (one draw from ``g`` per block), in parallel threads."""
    parts = blocks(shape)
    seeds = torch.randint(0, 2**62, (len(parts),), generator=g).tolist()

    def one(k: int) -> None:
        fill(parts[k], torch.Generator().manual_seed(seeds[k]))

    workers = max(1, min(len(parts), torch.get_num_threads()))
    if workers == 1:
        for k in range(len(parts)):
            one(k)
        return
    with ThreadPoolExecutor(workers) as pool:  # per call: a pool kept alive would not survive a fork
        list(pool.map(one, range(len(parts))))  # list(): re-raises a block's exception


def poisson(rates: Tensor, g: torch.Generator) -> Tensor:
    """Poisson draws for ``rates`` (N, ...) ≥ 0 on the CPU, of the same shape and dtype."""
    counts = torch.empty_like(rates)

    def fill(part: slice, gen: torch.Generator) -> None:
        counts[part] = torch.poisson(rates[part], generator=gen)

    in_blocks(tuple(rates.shape), g, fill)
    return counts
