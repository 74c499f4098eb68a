"""A copy of a model for attack passes, with eval-mode BatchNorm folded into the layer before it.

In eval mode a BatchNorm after a convolution (or linear layer) is a fixed per-channel affine map,
so it can be folded into that layer's weights and bias: the copy computes the same function up to
float rounding and skips the BatchNorm's forward and backward passes (on the embedded CNN a
forward + input-gradient pass took 0.72× the time, one CPU thread). The attacks of the minimal
search run on it; every candidate is still verified on the model as given.
"""

from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import Tensor, nn
from torch.fx import GraphModule, Node, symbolic_trace
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

LOGIT_TOLERANCE = 1e-3
"""Largest |Δlogit| / (1 + max |logit|) allowed between the folded copy and the model on a sample
(folding changes only float rounding: ~1e-7 here); beyond it the model is used as it is."""

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_FOLDS_INTO: dict[type[nn.Module], tuple[type[nn.Module], ...]] = {
    nn.BatchNorm1d: (nn.Conv1d, nn.Linear),
    nn.BatchNorm2d: (nn.Conv2d,),
    nn.BatchNorm3d: (nn.Conv3d,),
}
"""The layers each BatchNorm type folds into (torch.fx.experimental.optimization.fuse's patterns)."""


def foldable_pairs(graph_module: GraphModule) -> list[tuple[str, str]]:
    """(layer, BatchNorm) module names where a running-statistics BatchNorm module reads, alone,
    the output of a convolution or linear layer, and each of the two modules is called once (a
    module called twice cannot take another's weights). A BatchNorm inside a module fx traces
    through, such as timm's BatchNormAct2d, runs as a function in the graph and is not listed."""
    modules = dict(graph_module.named_modules())
    calls = Counter(str(n.target) for n in graph_module.graph.nodes if n.op == "call_module")
    pairs = []
    for node in graph_module.graph.nodes:
        bn = modules.get(str(node.target)) if node.op == "call_module" else None
        if not isinstance(bn, _BATCHNORMS) or not bn.track_running_stats or not node.args:
            continue
        source = node.args[0]
        if not isinstance(source, Node) or source.op != "call_module" or len(source.users) != 1:
            continue
        layer = modules.get(str(source.target))
        if isinstance(layer, _FOLDS_INTO[type(bn)]) and calls[str(source.target)] == calls[str(node.target)] == 1:
            pairs.append((str(source.target), str(node.target)))
    return pairs


def _fold_pair(model: nn.Module, layer_name: str, bn_name: str) -> None:
    """Fold the eval-mode BatchNorm ``bn_name`` of ``model`` into ``layer_name``'s weights and
    bias, and replace the BatchNorm by an identity (in place)."""
    layer, bn = model.get_submodule(layer_name), model.get_submodule(bn_name)
    assert isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d) and isinstance(bn, _BATCHNORMS)
    assert bn.running_mean is not None and bn.running_var is not None
    stats = (bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    if isinstance(layer, nn.Linear):
        layer.weight, layer.bias = fuse_linear_bn_weights(layer.weight, layer.bias, *stats)
    else:
        layer.weight, layer.bias = fuse_conv_bn_weights(layer.weight, layer.bias, *stats)
    parent, _, child = bn_name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())


def fold_batchnorm(model: nn.Module, sample: Tensor) -> tuple[nn.Module, int]:
    """(copy, k): an eval-mode deep copy of ``model`` with k BatchNorm layers folded into the
    convolution or linear layer whose output only they read (:func:`foldable_pairs`, found on a
    torch.fx trace), parameters frozen; or (``model``, 0) where nothing folds, torch.fx cannot
    trace the model symbolically (data-dependent control flow), or the copy's logits on ``sample``
    (N, C, H, W) differ from the model's by more than LOGIT_TOLERANCE.

    The copy is the model's own module tree, not the trace: a GraphModule and its per-instance
    class form reference cycles that only a full garbage collection frees (~0.1 s with torch
    imported), where a plain module tree goes when its last reference does."""
    if model.training or not any(isinstance(m, _BATCHNORMS) for m in model.modules()):
        return model, 0
    try:
        pairs = foldable_pairs(symbolic_trace(model))
        if not pairs:
            return model, 0
        folded = copy.deepcopy(model).eval()
        with torch.no_grad():
            for layer_name, bn_name in pairs:
                _fold_pair(folded, layer_name, bn_name)
            want, got = model(sample), folded(sample)
    except Exception:  # noqa: BLE001 (any tracing or copying failure: the model is attacked as it is)
        return model, 0
    for p in folded.parameters():
        p.requires_grad_(False)
    if want.shape != got.shape or float((want - got).abs().max()) > LOGIT_TOLERANCE * (1 + float(want.abs().max())):
        return model, 0
    return folded, len(pairs)
