"""The one wrapper every model source returns: [0, 1] input, normalisation inside, eval mode.

As RobustBench does, mean/std normalisation is folded into the module, so attacks, hybrids and
corruptions all work in [0, 1] pixel space and never need to know a model's preprocessing.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from robaudit.devices import resolve_device  # noqa: F401  (callers import it from here too)
from robaudit.errors import RobauditError, describe_exception


@dataclass
class ModelInfo:
    """What the report records about a model. input_size is (C, H, W); mean/std per channel."""

    spec: str
    source: str
    name: str
    input_size: tuple[int, int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: list[str] | None = None
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    parameters: int = 0
    weights_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data


def weights_sha256(module: nn.Module) -> str:
    """SHA-256 over the module's state dict (names, dtypes, shapes and bytes, in key order)."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode())
        if isinstance(value, Tensor):
            tensor = value.detach().to("cpu").contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class AuditedModel(nn.Module):
    """Wraps a classifier: forward((N, C, H, W) in [0, 1]) → logits (N, num_classes).

    Normalisation ((x − mean) / std) happens inside; the model is kept in eval mode and its
    parameters are frozen (gradients still flow to the input, for attacks).
    """

    def __init__(self, net: nn.Module, info: ModelInfo) -> None:
        super().__init__()
        self.net = net
        self.info = info
        channels = info.input_size[0]
        self.register_buffer("mean", _per_channel(info.mean, channels))
        self.register_buffer("std", _per_channel(info.std, channels))
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.eval()
        if not info.parameters:
            info.parameters = sum(p.numel() for p in net.parameters())
        if not info.weights_sha256:
            info.weights_sha256 = weights_sha256(net)

    mean: Tensor
    std: Tensor

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)

    def train(self, mode: bool = True) -> AuditedModel:
        """Always stays in eval mode: audits are defined on the deployed model."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def fill_from_dataset(self, image_size: tuple[int, int, int], num_classes: int) -> None:
        """Set the input size and class count of a model that did not declare them (a bare ``py:``
        module: ``info.extra["from_dataset"]``) from the dataset, after checking that the model maps
        one (1, C, H, W) image to ``num_classes`` logits. A no-op for models that declared them."""
        if not self.info.extra.get("from_dataset"):
            return
        self.info.input_size, self.info.num_classes = tuple(image_size), int(num_classes)  # type: ignore[assignment]
        self.mean = _per_channel(self.info.mean, image_size[0]).to(self.device)
        self.std = _per_channel(self.info.std, image_size[0]).to(self.device)
        try:
            with torch.no_grad():
                out = self(torch.zeros(1, *image_size, device=self.device))
        except Exception as exc:  # the user's network on the dataset's image size
            raise RobauditError(f"{self.info.spec} fails on {tuple(image_size)} images: "
                                f"{describe_exception(exc)}") from None
        if out.ndim != 2 or out.shape[1] != num_classes:
            raise RobauditError(f"{self.info.spec} gives outputs of shape {tuple(out.shape)} for one image but "
                                f"the dataset has {num_classes} classes; it must return (N, {num_classes}) logits")
        self.info.extra.pop("from_dataset")


def _per_channel(values: tuple[float, ...], channels: int) -> Tensor:
    tensor = torch.tensor(values, dtype=torch.float32)
    if tensor.numel() == 1:
        tensor = tensor.repeat(channels)
    return tensor.view(1, -1, 1, 1)
