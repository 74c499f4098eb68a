"""The embedded dataset: a real labelled image set that ships with scikit-image (no download).

Data ("photo patches"): ten photographs bundled inside the scikit-image wheel (no download),
cut into non-overlapping 32×32 RGB tiles at full resolution; the label is the photograph a
tile came from. Grey photographs are repeated to three channels. Tiles are split 75 / 25 into
train / test per photograph with a fixed seed, so the split is part of the data identity.
Why these rather than scikit-learn's 8×8 digits: the frequency probes need images with
natural-image spectra up to Nyquist, and 32×32 RGB matches CIFAR's format.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from robaudit.data.base import DatasetInfo, TensorImageSet

PHOTOS = (
    ("astronaut", "astronaut.png"), ("brick", "brick.png"), ("camera", "camera.png"),
    ("cat", "chelsea.png"), ("coffee", "coffee.png"), ("coins", "coins.png"),
    ("grass", "grass.png"), ("gravel", "gravel.png"), ("motorcycle", "motorcycle_left.png"),
    ("rocket", "rocket.jpg"),
)
TILE = 32
TRAIN_FRACTION = 0.75
SPLIT_SEED = 0


def _read_photo(filename: str) -> np.ndarray:
    """A bundled scikit-image photograph as (H, W, 3) uint8."""
    import skimage.data
    import skimage.io

    image = skimage.io.imread(os.path.join(os.path.dirname(skimage.data.__file__), filename))
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def _tiles(image: np.ndarray) -> np.ndarray:
    """Non-overlapping TILE×TILE tiles of (H, W, 3) → (n, 3, TILE, TILE) uint8 (vectorised)."""
    rows, cols = image.shape[0] // TILE, image.shape[1] // TILE
    grid = image[: rows * TILE, : cols * TILE].reshape(rows, TILE, cols, TILE, 3)
    return grid.transpose(0, 2, 4, 1, 3).reshape(-1, 3, TILE, TILE)


def load_photo_patches(split: str) -> TensorImageSet:
    """The embedded dataset's ``train`` or ``test`` split: (N, 3, 32, 32) uint8 tiles, 10 classes."""
    rng = np.random.default_rng(SPLIT_SEED)
    images, labels = [], []
    for label, (_, filename) in enumerate(PHOTOS):
        tiles = _tiles(_read_photo(filename))
        order = rng.permutation(len(tiles))
        cut = int(round(TRAIN_FRACTION * len(tiles)))
        chosen = order[:cut] if split == "train" else order[cut:]
        images.append(tiles[np.sort(chosen)])
        labels.append(np.full(len(chosen), label, dtype=np.int64))
    info = DatasetInfo(
        spec="embedded", name="embedded", split=split, num_images=0, num_classes=len(PHOTOS),
        image_size=(3, TILE, TILE), class_names=[name for name, _ in PHOTOS],
        source="scikit-image bundled photographs, 32x32 tiles (label = photograph)",
    )
    return TensorImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)), info)


def photograph_crops(size: int, count: int) -> np.ndarray:
    """(count, size, size, 3) uint8 bicubic-resized centre crops of scikit-image's bundled RGB
    photographs (for corruption fidelity tests and benchmarks)."""
    import skimage.data as d
    from PIL import Image

    names = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina"]
    out = []
    for i in range(count):
        img = getattr(d, names[i % len(names)])()[..., :3]
        side = min(img.shape[:2])
        top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        crop = Image.fromarray(img[top : top + side, left : left + side])
        out.append(np.asarray(crop.resize((size, size), Image.Resampling.BICUBIC)))
    return np.stack(out)
