"""The embedded default: a real labelled image set that ships with scikit-image, and a small
CNN robaudit trains on it on first use and caches.

Data ("photo patches"): ten photographs bundled inside the scikit-image wheel (no download),
cut into non-overlapping 32×32 RGB tiles at full resolution; the label is the photograph a
tile came from. Grey photographs are repeated to three channels. Tiles are split 75 / 25 into
train / test per photograph with a fixed seed, so the split is part of the data identity.
Why these rather than scikit-learn's 8×8 digits: the frequency probes need images with
natural-image spectra up to Nyquist, and 32×32 RGB matches CIFAR's format.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

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
MODEL_VERSION = "small-cnn-v1"


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


def robaudit_home() -> Path:
    """Where robaudit caches models it trains: $ROBAUDIT_HOME or ~/.cache/robaudit."""
    return Path(os.environ.get("ROBAUDIT_HOME", Path.home() / ".cache" / "robaudit"))


def embedded_model_path() -> Path:
    return robaudit_home() / "embedded" / f"{MODEL_VERSION}.pt"


def train_embedded_model(path: Path, epochs: int = 20, seed: int = 0) -> None:
    """Train the small CNN on the embedded train split and save a robaudit-model checkpoint."""
    from robaudit.models.archs import ARCHITECTURES
    from robaudit.models.local import save_checkpoint

    train = load_photo_patches("train")
    x = train.images.float().div(255.0)
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    x_norm = (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    torch.manual_seed(seed)
    kwargs = {"in_channels": 3, "num_classes": len(PHOTOS), "width": 16}
    net = ARCHITECTURES.get("small-cnn")(**kwargs)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    steps = epochs * ((len(x) + 63) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    start, curve = time.perf_counter(), []
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        correct = 0
        for batch in order.split(64):
            xb, yb = _augment(x_norm[batch], generator), train.labels[batch]
            logits = net(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            correct += int((logits.argmax(1) == yb).sum())
        curve.append(correct / len(x))
    meta = {
        "name": "embedded small-cnn", "input_size": [3, TILE, TILE], "num_classes": len(PHOTOS),
        "mean": mean.tolist(), "std": std.tolist(), "class_names": [n for n, _ in PHOTOS],
        "dataset": "embedded", "seed": seed, "kind": "embedded-default",
        "settings": {"epochs": epochs, "train_accuracy_curve": curve,
                     "train_seconds": time.perf_counter() - start},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, "small-cnn", kwargs, net.eval(), meta)


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Vectorised augmentation of a normalised batch (N, C, H, W): flips, 90° rotations, and
    random contrast and per-channel brightness so the mean colour of a tile (which identifies
    its photograph) cannot be the model's only cue."""
    n, c = x.shape[:2]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    x = torch.rot90(x, int(torch.randint(4, (1,), generator=generator)), dims=(-2, -1))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 0.5 + torch.rand(n, 1, 1, 1, generator=generator)
    shift = (torch.rand(n, c, 1, 1, generator=generator) - 0.5) * 2.0  # ±1 std per channel
    return (x - mean) * contrast + mean + shift


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
