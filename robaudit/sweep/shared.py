"""Work models share within one process: the loaded dataset and the generated corruption images.

Both are pure functions of their keys, so sharing them cannot change a metric:
- a dataset is a function of (spec, split, data_dir, download) and, for resizable sources, of
  the model's input size, crop and interpolation;
- a corrupted chunk is a function of the input images, the corruption, its severity and the
  seed of the generator that drives it (:func:`robaudit.corruptions.apply_corruption` draws all
  its randomness from that generator).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from robaudit.data import ImageSet, load_dataset
from robaudit.models.wrapper import AuditedModel, ModelInfo

_DATASETS: dict[tuple[Any, ...], ImageSet] = {}
# Generated corruption chunks kept in memory, first come first kept up to this many bytes
# (not LRU: models request the cells in the same order, which an LRU smaller than the set
# would evict just before they are needed again).
MEMO_BYTES = int(os.environ.get("ROBAUDIT_SWEEP_MEMO_BYTES", str(2 * 2**30)))


def shared_dataset(spec: str, split: str, data_dir: Any, download: bool, model_info: ModelInfo) -> ImageSet:
    """:func:`load_dataset`, loaded once per process for each distinct set of arguments."""
    key = (spec, split, str(data_dir), download, tuple(model_info.input_size), model_info.crop_pct,
           model_info.interpolation)
    if key not in _DATASETS:
        _DATASETS[key] = load_dataset(spec, split=split, data_dir=data_dir, download=download, model_info=model_info)
    return _DATASETS[key]


class CorruptionMemo:
    """Corrupted image chunks keyed by (input bytes digest, corruption, severity, generator seed)."""

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._items: dict[tuple[Any, ...], Tensor] = {}

    def clear(self) -> None:
        self._items.clear()
        self.used = self.hits = self.misses = 0

    def apply(self, original: Any, x: Tensor, name: str, severity: int, generator: torch.Generator,
              ref: int | None = None) -> Tensor:
        """``original(x, name, severity, generator, ref)``, reused when the same chunk was made before."""
        digest = hashlib.blake2b(x.detach().cpu().contiguous().numpy().tobytes(), digest_size=16).hexdigest()
        key = (f"{digest}{tuple(x.shape)}{x.dtype}{x.device.type}", name, int(severity),
               generator.initial_seed(), ref)
        cached = self._items.get(key)
        if cached is not None:
            self.hits += 1
            return _unpack(cached, x.device)
        self.misses += 1
        result = original(x, name, severity, generator, ref)
        packed = _pack(result)
        size = packed.element_size() * packed.nelement()
        if self.used + size <= self.max_bytes:
            self._items[key] = packed
            self.used += size
        return result


def _pack(images: Tensor) -> Tensor:
    """uint8 levels when that is exact (generated corruptions are quantised to 1/255), else a copy."""
    levels = (images.detach() * 255).round_().clamp_(0, 255).to(torch.uint8).cpu()
    return levels if torch.equal(levels.to(images.device, images.dtype) / 255, images) else images.detach().clone()


def _unpack(stored: Tensor, device: torch.device) -> Tensor:
    return stored.to(device).float() / 255 if stored.dtype == torch.uint8 else stored.to(device).clone()


MEMO = CorruptionMemo()


def forget_shared() -> None:
    """Drop the shared datasets and corruption sets (as a fresh process starts)."""
    _DATASETS.clear()
    MEMO.clear()


@contextlib.contextmanager
def shared_corruptions(memo: CorruptionMemo = MEMO) -> Iterator[CorruptionMemo]:
    """Route the corruption probe's on-the-fly generation through ``memo`` while inside.

    The probe calls ``apply_corruption`` through its module's name; that name is swapped for the
    memoised one and restored on exit. If the probe module has no such name, nothing is shared.
    """
    import robaudit.probes.corruptions as probe_module

    original = getattr(probe_module, "apply_corruption", None)
    if original is None:
        yield memo
        return

    def memoised(x: Tensor, name: str, severity: int, generator: torch.Generator, ref: int | None = None) -> Tensor:
        return memo.apply(original, x, name, severity, generator, ref)

    probe_module.apply_corruption = memoised
    try:
        yield memo
    finally:
        probe_module.apply_corruption = original


class NonFiniteOutput(RuntimeError):
    """The model returned NaN or infinite logits."""


def guard_finite(model: AuditedModel) -> None:
    """Raise :class:`NonFiniteOutput` on the first forward pass that gives NaN or ±inf logits."""

    def check(module: torch.nn.Module, inputs: Any, output: Tensor) -> None:
        if not bool(torch.isfinite(output).all()):
            bad = int((~torch.isfinite(output)).any(dim=-1).sum())
            raise NonFiniteOutput(f"{model.info.spec} gave NaN or infinite logits for {bad} of {len(output)} images")

    model.register_forward_hook(check)
