"""A copy of a model for attack passes, with eval-mode BatchNorm folded into the layer before it.

In eval mode a BatchNorm after a convolution (or linear layer) is a fixed per-channel affine map,
so it can be folded into that layer's weights and bias: the copy computes the same function up to
float rounding and skips the BatchNorm's forward and backward passes (on the embedded CNN a
forward + input-gradient pass took 0.72× the time, one CPU thread). The attacks of the minimal
search run on it; every candidate is still verified on the model as given.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn
from torch.fx import GraphModule, symbolic_trace
from torch.fx.experimental.optimization import fuse

LOGIT_TOLERANCE = 1e-3
"""Largest |Δlogit| / (1 + max |logit|) allowed between the folded copy and the model on a sample
(folding changes only float rounding: ~1e-7 here); beyond it the model is used as it is."""

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _batchnorm_calls(graph_module: GraphModule) -> int:
    """Calls of BatchNorm modules in a torch.fx GraphModule's graph (a BatchNorm inside a module
    fx traces through, such as timm's BatchNormAct2d, runs as a function and is not counted)."""
    modules = dict(graph_module.named_modules())
    return sum(node.op == "call_module" and isinstance(modules.get(str(node.target)), _BATCHNORMS)
               for node in graph_module.graph.nodes)


def fold_batchnorm(model: nn.Module, sample: Tensor) -> tuple[nn.Module, int]:
    """(copy, k): an eval-mode copy of ``model`` with k BatchNorm layers folded into the
    convolution or linear layer whose output only they read (torch.fx's ``fuse``), parameters
    frozen; or (``model``, 0) where nothing folds, torch.fx cannot trace the model symbolically
    (data-dependent control flow), or the copy's logits on ``sample`` (N, C, H, W) differ from
    the model's by more than LOGIT_TOLERANCE."""
    if model.training or not any(isinstance(m, _BATCHNORMS) for m in model.modules()):
        return model, 0
    try:
        traced = symbolic_trace(model)  # shares the model's modules; fuse folds into a deep copy
        folded = cast(GraphModule, fuse(traced, no_trace=True)).eval()  # fuse returns a GraphModule
        count = _batchnorm_calls(traced) - _batchnorm_calls(folded)
        with torch.no_grad():
            want, got = model(sample), folded(sample)
    except Exception:  # noqa: BLE001 (any tracing failure: the model is then attacked as it is)
        return model, 0
    if count == 0:
        return model, 0
    for p in folded.parameters():
        p.requires_grad_(False)
    if want.shape != got.shape or float((want - got).abs().max()) > LOGIT_TOLERANCE * (1 + float(want.abs().max())):
        return model, 0
    return folded, count
