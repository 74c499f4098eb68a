"""Reading and checking the user's inputs: .npy arrays, image arrays, datasets, channel statistics.

Every user-fixable problem (shapes, NaNs, value ranges, missing files) raises RobauditError here,
so a bad input fails in seconds rather than after an epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from robaudit.colour import to_grey
from robaudit.data import load_dataset
from robaudit.data.base import ImageSet
from robaudit.errors import RobauditError

STATS_IMAGES = 10000  # images used for mean/std


def load_data(spec: str, split: str, data_dir: Path | None) -> ImageSet:
    """A dataset split from robaudit's dataset registry."""
    return load_dataset(spec, split=split, data_dir=data_dir)


def channel_stats(data: ImageSet, grey: bool, gen: torch.Generator) -> tuple[list[float], list[float]]:
    """Per-channel mean/std over ≤ STATS_IMAGES training images; grey: luminance stats repeated.

    Accumulated in float64 over chunks of 256 images, so large images never sit in memory at once.
    """
    n = len(data)
    idx = torch.randperm(n, generator=gen)[: min(n, STATS_IMAGES)].sort().values
    c = data.info.image_size[0]
    count, sums = 0, None  # sums: (2, C) per-channel Σx and Σx²
    for chunk in idx.split(256):
        x = data.load(chunk)[0].double()
        if grey and c == 3:
            x = to_grey(x)
        part = torch.stack([x.sum(dim=(0, 2, 3)), x.pow(2).sum(dim=(0, 2, 3))])
        sums = part if sums is None else sums + part
        count += x.shape[0] * x.shape[2] * x.shape[3]
    assert sums is not None
    mean = sums[0] / count
    std = (sums[1] / count - mean**2).clamp_min(1e-12).sqrt().clamp_min(1e-6)
    if grey and c == 3:
        mean, std = mean.repeat(3), std.repeat(3)
    return mean.tolist(), std.tolist()


def normalise(x: Tensor, mean: list[float], std: list[float]) -> Tensor:
    """(x − mean) / std per channel; x (N, C, H, W)."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def load_npy(path: Path, what: str) -> np.ndarray:
    """np.load without pickles, with a clear error for missing or unreadable files."""
    if not Path(path).is_file():
        raise RobauditError(f"{what} file {path} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise RobauditError(f"cannot read {what} {path} as a .npy array: {exc}") from None
    if not np.issubdtype(array.dtype, np.number):
        raise RobauditError(f"{what} must hold numbers, got dtype {array.dtype}")
    return array


def as_images(array: np.ndarray, what: str) -> Tensor:
    """(N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float in [0, 1] → float (N, C, H, W)."""
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
        array = array.transpose(0, 3, 1, 2)
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] < 2:
        raise RobauditError(f"{what} must be N×H×W, N×H×W×C or N×C×H×W (C 1 or 3, N ≥ 2), got {array.shape}")
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255.0)
    if not np.all(np.isfinite(array)):
        raise RobauditError(f"{what} contains NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise RobauditError(f"{what} floats must lie in [0, 1] (or pass uint8 0–255)")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def match_images(x: Tensor, c: int, h: int, w: int) -> Tensor:
    """Bring images (N, C', H', W') to the task's channels (luminance / repeat) and size."""
    if x.shape[1] == 1 and c == 3:
        x = x.expand(-1, 3, -1, -1).contiguous()
    elif x.shape[1] == 3 and c == 1:
        x = to_grey(x)
    if tuple(x.shape[-2:]) != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


