"""A copy of a model for attack passes, with eval-mode BatchNorm folded into the layer before it.

In eval mode a BatchNorm after a convolution (or linear layer) is a fixed per-channel affine map,
so it can be folded into that layer's weights and bias: the copy computes the same function up to
float rounding and skips the BatchNorm's forward and backward passes (on the embedded CNN a
forward + input-gradient pass took 0.72× the time, one CPU thread). The attacks of the minimal
search run on it; every candidate is still verified on the model as given.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

LOGIT_TOLERANCE = 1e-3
"""Largest |Δlogit| / (1 + max |logit|) allowed between the folded copy and the model on a sample
(folding changes only float rounding: ~1e-7 here); beyond it the model is used as it is."""

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, _BATCHNORMS) for m in model.modules())


def fold_batchnorm(model: nn.Module, sample: Tensor) -> tuple[nn.Module, int]:
    """(copy, k): an eval-mode copy of ``model`` with k BatchNorm layers folded into the
    convolution or linear layer whose output only they read (torch.fx's ``fuse``), parameters
    frozen; or (``model``, 0) where nothing folds, torch.fx cannot trace the model symbolically
    (data-dependent control flow), or the copy's logits on ``sample`` (N, C, H, W) differ from
    the model's by more than LOGIT_TOLERANCE."""
    before = _batchnorms(model)
    if before == 0 or model.training:
        return model, 0
    try:
        # Imported here: torch.fx loads only for models that have something to fold.
        from torch.fx.experimental.optimization import fuse

        folded = fuse(model).eval()
        with torch.no_grad():
            want, got = model(sample), folded(sample)
    except Exception:  # noqa: BLE001 (any tracing failure: the model is then attacked as it is)
        return model, 0
    count = before - _batchnorms(folded)
    if count == 0:
        return model, 0
    for p in folded.parameters():
        p.requires_grad_(False)
    if want.shape != got.shape or float((want - got).abs().max()) > LOGIT_TOLERANCE * (1 + float(want.abs().max())):
        return model, 0
    return folded, count
