"""The one device resolver: "auto", "cpu", "cuda" or "cuda:N" → a torch.device; and how a batch
is laid out in memory for the model."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

import torch
from torch import Tensor, nn

from robaudit.errors import RobauditError


def resolve_device(name: str) -> torch.device:
    """'auto' → cuda if available else cpu; 'cpu'; 'cuda' / 'cuda:N' (error if unavailable)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RobauditError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise RobauditError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None


@functools.cache
def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None


def release_free_host_memory() -> None:
    """Hand freed heap pages back to the OS (glibc's ``malloc_trim``).

    The attacks allocate hundreds of MiB of short-lived scratch per batch at 224 px; glibc keeps the
    freed, fragmented arenas, so without a trim the peak RSS grows with the number of batches
    (measured: 1.6× from 100 to 1,000 images) although nothing stays alive between batches.
    Reference cycles (foolbox's and eagerpy's wrappers form some) are collected first, so the
    tensors they hold are freed now rather than at the collector's next allocation-count pass.
    Only the young generations: the attack's cycles are young, and a full collection walks every
    object the imports made (~0.15 s a batch with torch, foolbox and robaudit loaded).
    """
    gc.collect(1)
    trim = _libc_malloc_trim()
    if trim is not None:
        trim(0)


ORDER_TOLERANCE = 1e-4
"""Largest |Δlogit| / (1 + max |logit|) between a model's logits on the same images in
channels-last and in default memory order (float rounding: ~1e-7); beyond it the model reads
memory as if in the default order (a custom operation that ignores strides), so it gets that order."""


def same_logits(got: Tensor, want: Tensor, tolerance: float = ORDER_TOLERANCE) -> bool:
    """Whether logits (N, K) ``got`` equal ``want`` to ``tolerance`` relative to want's largest."""
    return got.shape == want.shape and float((got - want).abs().max()) <= tolerance * (1 + float(want.abs().max()))


def takes_channels_last(model: nn.Module, x: Tensor, out: Tensor | None = None) -> bool:
    """Whether ``model`` gives the same logits on x (n, C, H, W) in channels-last order as in the
    default order, without error. ``out``: its logits on x in channels-last order, if already computed."""
    try:
        with torch.no_grad():
            if out is None:
                out = model(x.contiguous(memory_format=torch.channels_last))
            return same_logits(out, model(x.contiguous()))
    except RuntimeError:
        return False


def channels_last_if_accepted(model: nn.Module, x: Tensor) -> Tensor:
    """x (N, C, H, W) in channels-last memory order where ``model`` takes it, else x as it is.

    Convolutions run faster on it (a forward and input-gradient pass took 0.84× the time on the
    embedded CNN and 0.83× on a CIFAR ResNet18, one CPU thread), and tensors computed from x
    keep the order, so a whole attack gains. The values are the same; a model that views its
    input as (N, C·H·W) needs the default order, and one that reads memory ignoring strides gives
    other logits in it, so one image is tried in both orders first (:func:`takes_channels_last`)."""
    if x.dim() != 4 or x.shape[1] == 1:
        return x
    return x.contiguous(memory_format=torch.channels_last) if takes_channels_last(model, x[:1]) else x
