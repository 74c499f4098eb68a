"""Datasets as seen by probes: labelled images in [0, 1], loaded by index, with an identity."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from robaudit.errors import RobauditError


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


def checked_labels(labels: object, num_images: int, num_classes: int | None, where: str) -> np.ndarray:
    """``labels`` as (N,) int64 after checking what they mean: one per image, whole numbers
    (integer dtype, or floats with no fraction and no NaN), ≥ 0 and, when the class count is
    known (class names given), below it. Anything else raises a one-line RobauditError."""
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != num_images:
        raise RobauditError(f"{where}: labels must be one per image, shape ({num_images},), found {y.shape}")
    if y.dtype.kind not in "iuf":
        raise RobauditError(f"{where}: labels must be whole numbers, found dtype {y.dtype}")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        bad = y[~(np.isfinite(y) & (y == np.round(y)))][0]
        raise RobauditError(f"{where}: labels must be whole numbers, found {bad!r}")
    if len(y) and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        limit = f"below the {num_classes} class names" if num_classes is not None else "≥ 0"
        raise RobauditError(f"{where}: labels must be {limit}, found {y.min():g}..{y.max():g}")
    return y.astype(np.int64)


def resize_images(x: Tensor, size: tuple[int, int], crop_pct: float) -> Tensor:
    """x (n, C, h, w) → (n, C, H, W): shorter side resized to H / crop_pct (antialiased), then a
    centre crop (timm's evaluation transform)."""
    import torchvision.transforms.functional as tf

    height, width = size
    if tuple(x.shape[-2:]) == (height, width):
        return x
    x = tf.resize(x, [int(height / crop_pct)], antialias=True)
    return tf.center_crop(x, [height, width])


class ResizedImageSet(ImageSet):
    """Another set's images resized and centre-cropped to a model's input size (``--resize``);
    the identity (sha256) stays the source's, the report records the resize in ``info.extra``."""

    def __init__(self, source: ImageSet, size: tuple[int, int], crop_pct: float) -> None:
        self.source, self.size, self.crop_pct = source, size, crop_pct
        channels = source.info.image_size[0]
        extra = dict(source.info.extra, resized={"from": list(source.info.image_size),
                                                 "to": [channels, *size], "crop_pct": crop_pct})
        self.info = DatasetInfo(**{**asdict(source.info), "image_size": (channels, *size), "extra": extra})

    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        x, y = self.source.load(indices)
        return resize_images(x, self.size, self.crop_pct).clamp_(0.0, 1.0), y

    @property
    def labels(self) -> Tensor:
        return self.source.labels
