"""Sharing generated corruptions between models of one process (a sweep generates each set once).

A generated corruption is a pure function of its input images, the corruption, the severity, the
parameter table and the state of the generator that drives it, so reusing it cannot change a
metric. Sharing is off unless a caller turns it on with :func:`sharing`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

# Generated chunks kept in memory, first come first kept up to this many bytes (not LRU: models
# request the cells in the same order, which an LRU smaller than the set would evict just before
# they are needed again).
MEMO_BYTES = int(os.environ.get("ROBAUDIT_SWEEP_MEMO_BYTES", str(2 * 2**30)))


class CorruptionMemo:
    """Corrupted chunks keyed by (input digest, corruption, severity, table, generator state)."""

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.used = self.hits = self.misses = 0
        self._items: dict[tuple[Any, ...], tuple[Tensor, Tensor]] = {}

    def clear(self) -> None:
        self._items.clear()
        self.used = self.hits = self.misses = 0

    def get_or_make(self, make: Callable[[], Tensor], x: Tensor, name: str, severity: int,
                    generator: torch.Generator, ref: int | None) -> Tensor:
        """``make()``'s result, reused when the same chunk was made before; the generator ends in
        the same state either way."""
        digest = hashlib.blake2b(x.detach().cpu().contiguous().numpy().tobytes(), digest_size=16)
        digest.update(generator.get_state().numpy().tobytes())
        key = (digest.hexdigest(), tuple(x.shape), str(x.dtype), name, int(severity), ref)
        if key in self._items:
            self.hits += 1
            packed, state_after = self._items[key]
            generator.set_state(state_after)
            return _unpack(packed, x.device, x.dtype)
        self.misses += 1
        result = make()
        packed = _pack(result)
        size = packed.element_size() * packed.nelement()
        if self.used + size <= self.max_bytes:
            self._items[key] = (packed, generator.get_state())
            self.used += size
        return result


def _pack(images: Tensor) -> Tensor:
    """uint8 levels when that is exact (generated corruptions are quantised to 1/255), else a copy."""
    levels = (images.detach() * 255).round_().clamp_(0, 255).to(torch.uint8).cpu()
    exact = torch.equal(levels.to(images.device, images.dtype) / 255, images)
    return levels if exact else images.detach().cpu().clone()


def _unpack(stored: Tensor, device: torch.device, dtype: torch.dtype) -> Tensor:
    if stored.dtype == torch.uint8:
        return (stored.to(device).to(dtype) / 255)
    return stored.to(device).clone()


_ACTIVE: contextvars.ContextVar[CorruptionMemo | None] = contextvars.ContextVar("corruption_memo", default=None)


def active() -> CorruptionMemo | None:
    """The memo in force, or None when sharing is off."""
    return _ACTIVE.get()


@contextlib.contextmanager
def sharing(memo: CorruptionMemo) -> Iterator[CorruptionMemo]:
    """Within the block, :func:`robaudit.corruptions.apply_corruption` reuses chunks through ``memo``."""
    token = _ACTIVE.set(memo)
    try:
        yield memo
    finally:
        _ACTIVE.reset(token)
