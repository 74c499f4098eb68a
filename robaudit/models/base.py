"""Model-source registry: a spec ``PREFIX:NAME`` picks a source, which builds the bare network.

Each source returns (net, ModelInfo); :func:`robaudit.models.load_model` wraps the result in
:class:`AuditedModel`, so every model comes out the same way whatever its origin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from robaudit.errors import RobauditError
from robaudit.models.wrapper import ModelInfo
from robaudit.registry import Registry, suggest
from robaudit.torch_files import load_weights_only

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class LoadOptions:
    """How to load: a local weights file, a RobustBench model folder, the device."""

    weights: Path | None = None
    model_dir: Path | None = None
    device: torch.device = torch.device("cpu")


class ModelSource(ABC):
    """One origin of models (torchvision, timm, ...). ``prefix`` is its spec prefix;
    ``takes_weights`` says whether its build reads ``LoadOptions.weights`` (``--weights``)."""

    prefix: ClassVar[str]
    description: ClassVar[str] = ""
    takes_weights: ClassVar[bool] = False

    @abstractmethod
    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        """Return the bare network (expecting normalised input) and its metadata."""

    def available(self) -> list[str]:
        """Names this source offers (empty for sources that take paths)."""
        return []


MODEL_SOURCES: Registry[type[ModelSource]] = Registry("model source")


def parse_spec(spec: str) -> tuple[str, str]:
    """'timm:resnet18' → ('timm', 'resnet18'). The prefix is required."""
    prefix, sep, name = spec.partition(":")
    if not sep or not name:
        raise RobauditError(
            f"model spec {spec!r} needs a source prefix, e.g. torchvision:resnet18; "
            f"sources: {', '.join(p + ':' for p in MODEL_SOURCES.names())}"
        )
    MODEL_SOURCES.get(prefix)  # unknown prefix → error with suggestions
    return prefix, name


def check_weights_taken(prefix: str, weights: object) -> None:
    """Refuse ``--weights`` for a source that would ignore it, naming the sources that read it."""
    if weights is None or MODEL_SOURCES.get(prefix).takes_weights:
        return
    takers = ", ".join(f"{p}:" for p in MODEL_SOURCES.names() if MODEL_SOURCES.get(p).takes_weights)
    raise RobauditError(f"--weights is not used by {prefix}: models; only {takers} models take it; "
                        "drop --weights or use one of those sources")


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict saved with torch.save, safely (weights_only); unwrap common nestings."""
    if not path.is_file():
        raise RobauditError(f"weights file {path} does not exist; check the path")
    payload = load_weights_only(path, "cannot read weights {path}: {reason}; it must be a state dict saved with "
                                      "torch.save")
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            payload = payload[key]
    if not isinstance(payload, dict):
        raise RobauditError(f"{path} does not hold a state dict (found {type(payload).__name__})")
    return {k.removeprefix("module."): v for k, v in payload.items()}


def load_weights_into(net: nn.Module, path: Path) -> None:
    """Load a local state dict into ``net``, with a one-line error on mismatched keys."""
    try:
        net.load_state_dict(load_state_dict_file(path))
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise RobauditError(
            f"weights {path} do not fit this architecture: {first[0].strip()[:200]}"
        ) from None


def unknown_model(kind: str, name: str, choices: list[str], how: str) -> RobauditError:
    """One line for a model name a source does not have: close matches, then ``how`` to list them."""
    return RobauditError(f"unknown {kind} model {name!r}.{suggest(name, choices)} {how}")


def offline_error(what: str, exc: BaseException, hint: str) -> RobauditError:
    """A clear one-line error for a failed download (no network, missing file in the hub cache);
    the reason is the exception's whole first line, not cut."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RobauditError(f"could not download {what} ({reason}); {hint}")
