"""Datasets as seen by probes: labelled images in [0, 1], loaded by index, with an identity."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor


@dataclass
class DatasetInfo:
    """What the report records about a dataset. image_size is (C, H, W)."""

    spec: str
    name: str
    split: str
    num_images: int
    num_classes: int
    image_size: tuple[int, int, int]
    class_names: list[str] | None = None
    sha256: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["image_size"] = list(self.image_size)
        return data


class ModelInput(Protocol):
    """What a dataset needs to know about the model it feeds (robaudit.models.ModelInfo has it):
    the input size (C, H, W) to resize and crop to, the crop fraction, and names for messages."""

    spec: str
    input_size: tuple[int, int, int]
    num_classes: int
    crop_pct: float


class ImageSet(ABC):
    """Labelled images. ``load(indices)`` → (x (n, C, H, W) float32 in [0, 1] on CPU, y (n,) int64)."""

    info: DatasetInfo

    def __len__(self) -> int:
        return self.info.num_images

    @abstractmethod
    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]: ...

    @property
    @abstractmethod
    def labels(self) -> Tensor:
        """All labels, (N,) int64, without loading images (for class-balanced sampling)."""


class TensorImageSet(ImageSet):
    """An in-memory set: images (N, C, H, W) uint8, labels (N,) int64."""

    def __init__(self, images: Tensor, labels: Tensor, info: DatasetInfo) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError("images must be uint8 (N, C, H, W)")
        self.images, self._labels = images, labels.long()
        info.num_images = len(images)
        info.image_size = tuple(images.shape[1:])  # type: ignore[assignment]
        if not info.sha256:
            info.sha256 = array_sha256(images.numpy(), self._labels.numpy())
        self.info = info

    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        return self.images[indices].float().div_(255.0), self._labels[indices]

    @property
    def labels(self) -> Tensor:
        return self._labels


def array_sha256(*arrays: np.ndarray) -> str:
    """SHA-256 over the bytes, dtypes and shapes of numpy arrays."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()
