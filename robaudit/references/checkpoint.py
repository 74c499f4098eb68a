"""Reference-model checkpoints: weights plus metadata, readable by torch.load(weights_only=True).

Layout: {"format": "robaudit-reference", "format_version": 1, "meta": {...}, "state_dict": {...}}.
The network takes *normalised* input ((x − mean) / std with meta's mean/std) and contains its
fixed pre-filter layers (greyscale, blur, PCA) ahead of the backbone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from robaudit.atomic import atomic_write_with
from robaudit.errors import RobauditError, describe_exception, one_line
from robaudit.references.backbones import ArchSpec, build_backbone
from robaudit.references.layers import build_prefilter

FORMAT = "robaudit-reference"
FORMAT_VERSION = 1
META_KEYS = ("mean", "std", "input_size", "num_classes", "class_names", "name")


class ReferenceNet(nn.Module):
    """Fixed pre-filter layers then the backbone: normalised (N, C, H, W) → logits (N, K)."""

    def __init__(self, pre: nn.Sequential, backbone: nn.Module) -> None:
        super().__init__()
        self.pre, self.backbone = pre, backbone

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone(self.pre(x))


def build_net(meta: dict[str, Any]) -> ReferenceNet:
    """An untrained ReferenceNet with the architecture meta describes (no downloads)."""
    arch = ArchSpec(**{**meta["arch"], "pretrained": False})
    return ReferenceNet(build_prefilter(meta["prefilter"]), build_backbone(arch))


def build_from_checkpoint(ckpt: dict[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
    """(net, meta) from a loaded checkpoint dict. net expects normalised input, is in eval mode."""
    check_format(ckpt)
    meta = ckpt["meta"]
    try:
        net = build_net(meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise RobauditError(f"checkpoint metadata does not describe an architecture ({describe_exception(exc)}); "
                            "it is truncated or foreign") from None
    try:
        net.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise RobauditError(f"checkpoint weights do not fit its architecture: {one_line(exc)[:300]}") from None
    return net.eval(), meta


def check_format(ckpt: Any) -> None:
    """Raise a RobauditError unless ckpt is a robaudit reference checkpoint we can read."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise RobauditError(f"not a {FORMAT} checkpoint (no 'format': {FORMAT!r} key)")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise RobauditError(
            f"checkpoint format_version {ckpt.get('format_version')} is not supported "
            f"(this robaudit reads {FORMAT_VERSION}); upgrade robaudit"
        )
    meta = ckpt.get("meta")
    missing = [k for k in (*META_KEYS, "arch", "prefilter") if not isinstance(meta, dict) or k not in meta]
    if missing or "state_dict" not in ckpt:
        raise RobauditError(f"checkpoint lacks {missing or ['state_dict']}; it is truncated or foreign")


def make_checkpoint(net: nn.Module, meta: dict[str, Any]) -> dict[str, Any]:
    """Package weights and JSON-safe metadata (tuples become lists; others rejected)."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "meta": plain(meta),
        "state_dict": state,
    }


def plain(value: Any) -> Any:
    """Convert to what weights_only loading accepts: dict/list/str/int/float/bool/None."""
    return json.loads(json.dumps(value, default=_fallback))


def _fallback(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Tensor):
        return value.tolist()
    if hasattr(value, "tolist"):  # numpy scalars/arrays
        return value.tolist()
    return str(value)  # anything else is recorded by its text, never pickled


def save_torch(obj: Any, path: Path) -> None:
    """torch.save through the one atomic writer: a kill never leaves a torn file."""
    atomic_write_with(path, lambda handle: torch.save(obj, handle))
