"""One seeded generator for every random choice: ``--seed`` plus named tags → an independent stream."""

from __future__ import annotations

import hashlib
import json

import torch


def seeded_generator(seed: int, *tags: object) -> torch.Generator:
    """A CPU generator seeded by hashing (seed, tags): the same tags give the same stream every run,
    different tags give independent streams (e.g. ``seeded_generator(0, "hybrid", "pairs", 3)``)."""
    text = json.dumps([seed, *map(str, tags)])
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
    return torch.Generator().manual_seed(value)


def seeded_subset(total: int, n_images: int | None, generator: torch.Generator) -> torch.Tensor:
    """Sorted seeded indices (n,): n_images of range(total), or all of them when n_images is None
    or ≥ total."""
    if n_images is None or n_images >= total:
        return torch.arange(total)
    return torch.randperm(total, generator=generator)[:n_images].sort().values
