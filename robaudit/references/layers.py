"""Fixed (frozen) input layers of the reference models: greyscale, Gaussian blur, PCA projection.

All three run on *normalised* input ((x − mean) / std), because the audit wrapper normalises
before calling the network. That is exact for blur and grey (both are linear maps whose weights
sum to 1, so they commute with a per-channel affine map when mean/std are equal across the
channels they mix; blur is depthwise, so it commutes with any per-channel affine map). The PCA
basis is fitted on normalised training images, so it is the PCA of what the layer sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robaudit import spectral
from robaudit.colour import GREY_WEIGHTS, to_grey
from robaudit.errors import RobauditError
from robaudit.registry import Registry

PCA_MAX_DIM = 16384  # C·H·W; the D×D float64 covariance then takes 2 GiB


class Greyscale(nn.Module):
    """(N, 3, H, W) → (N, 1, H, W) luminance; (N, 1, H, W) passes through. Its ``weight`` buffer
    (the luminance weights, (1, 3, 1, 1)) is part of reference checkpoints' state dicts, which
    load strictly."""

    weight: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", torch.tensor(GREY_WEIGHTS).view(1, 3, 1, 1))  # a key of saved state dicts

    def forward(self, x: Tensor) -> Tensor:
        return to_grey(x)


class GaussianBlur(nn.Module):
    """Fixed depthwise Gaussian filter: half-width ceil(2.5σ), sums to 1, circular padding.

    Input and output (N, C, H, W); σ in pixels. No bias, no trainable parameters; gradients
    flow to the input so attacks work through it.
    """

    kernel: Tensor

    def __init__(self, channels: int, sigma: float) -> None:
        super().__init__()
        if not sigma > 0:
            raise RobauditError(f"--sigma must be > 0 pixels, got {sigma}")
        self.channels, self.sigma = channels, float(sigma)
        kernel = spectral.gaussian_kernel(sigma)
        self.radius = (kernel.shape[-1] - 1) // 2
        self.register_buffer("kernel", kernel.expand(channels, 1, *kernel.shape).clone())

    def forward(self, x: Tensor) -> Tensor:
        h = self.radius
        if h >= x.shape[-1] or h >= x.shape[-2]:
            raise RobauditError(f"blur half-width {h} px is not smaller than the image {x.shape}")
        padded = F.pad(x, (h, h, h, h), mode="circular")
        return F.conv2d(padded, self.kernel.to(x.dtype), groups=self.channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, sigma={self.sigma}, half_width={self.radius}"


class PCAProjection(nn.Module):
    """x' = μ + U_Kᵀ U_K (x − μ) (centred, the default) or x' = U_Kᵀ U_K x (the paper's equation).

    mean: (D,), components: (K, D) orthonormal rows, D = C·H·W. Input/output (N, C, H, W).
    """

    mean: Tensor
    components: Tensor

    def __init__(self, mean: Tensor, components: Tensor, centre: bool = True) -> None:
        super().__init__()
        self.centre = centre
        self.register_buffer("mean", mean.float().clone())
        self.register_buffer("components", components.float().clone())

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        u = self.components.to(x.dtype)
        if self.centre:
            mu = self.mean.to(x.dtype)
            return (mu + (flat - mu) @ u.T @ u).view_as(x)
        return (flat @ u.T @ u).view_as(x)

    def extra_repr(self) -> str:
        k, d = self.components.shape
        return f"components={k}, dim={d}, centre={self.centre}"


def check_pca_size(image_size: tuple[int, ...], k: int, max_dim: int = PCA_MAX_DIM) -> None:
    """Raise a clear error unless D = C·H·W ≤ max_dim and 1 ≤ k ≤ D (checked before any loading)."""
    d = math.prod(image_size)
    if d > max_dim:
        raise RobauditError(
            f"PCA on {tuple(image_size)} images needs a {d}×{d} covariance; the limit is "
            f"D = C·H·W ≤ {max_dim} (e.g. 3×64×64 images). Use the blur kind, or smaller images."
        )
    if not 0 < k <= d:
        raise RobauditError(f"--components must be in 1..{d} (C·H·W) for these images, got {k}")


def fit_pca(images: Tensor, k: int, centre: bool = True, max_dim: int = PCA_MAX_DIM) -> PCAProjection:
    """Fit the projection on the top-k eigenvectors of the covariance of images (N, C, H, W).

    The covariance is formed explicitly (D × D, float64, as the paper did) and diagonalised with
    torch.linalg.eigh; D = C·H·W must be at most ``max_dim``.
    """
    flat = images.flatten(1)
    n, d = flat.shape
    check_pca_size(tuple(images.shape[1:]), k, max_dim)
    if n < 2:
        raise RobauditError("PCA needs at least 2 training images")
    mean = flat.double().mean(dim=0)
    cov = torch.zeros(d, d, dtype=torch.float64)
    for chunk in flat.split(2048):  # accumulate in float64, one chunk at a time
        centred = chunk.double() - mean
        cov.addmm_(centred.T, centred)
    cov /= n - 1
    _, vectors = torch.linalg.eigh(cov)  # ascending eigenvalues
    components = vectors[:, -k:].flip(1).T.contiguous()  # (k, D), largest first
    return PCAProjection(mean.float(), components.float(), centre=centre)


class RepeatChannels(nn.Module):
    """(N, 1, H, W) → (N, channels, H, W): feeds a grey image to an RGB backbone."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return x.expand(-1, self.channels, -1, -1)


# Fixed input layers by the "type" of their description in a checkpoint's meta["prefilter"];
# each builder takes the description dict. PCA buffers are zeros until the state dict is loaded.
PREFILTER_LAYERS: Registry[Callable[[dict[str, Any]], nn.Module]] = Registry("pre-filter layer")
PREFILTER_LAYERS.register("grey")(lambda d: Greyscale())
PREFILTER_LAYERS.register("repeat")(lambda d: RepeatChannels(int(d["channels"])))
PREFILTER_LAYERS.register("blur")(lambda d: GaussianBlur(int(d["channels"]), float(d["sigma"])))
PREFILTER_LAYERS.register("pca")(lambda d: PCAProjection(
    torch.zeros(int(d["dim"])), torch.zeros(int(d["components"]), int(d["dim"])), bool(d["centre"])))


def build_prefilter(layers: list[dict[str, Any]]) -> nn.Sequential:
    """The fixed layers from their descriptions, each named by its type (e.g. pre.blur)."""
    pre = nn.Sequential()
    for description in layers:
        kind = str(description["type"])
        pre.add_module(kind, PREFILTER_LAYERS.get(kind)(description))
    return pre
