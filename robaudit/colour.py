"""The one greyscale conversion: ITU-R BT.601 luma, as OpenCV's COLOR_RGB2GRAY, PIL's "L" mode
and torchvision's rgb_to_grayscale use."""

from __future__ import annotations

import torch
from torch import Tensor

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # R, G, B weights of BT.601 luma; they sum to 1


def to_grey(x: Tensor) -> Tensor:
    """(N, 3, H, W) RGB → (N, 1, H, W) luma, in x's dtype and device; C = 1 passes through."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(GREY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)
