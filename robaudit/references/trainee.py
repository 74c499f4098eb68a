"""The module that trains: the reference net plus its regularizer head, and per-step helpers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robaudit.references.backbones import FeatureTaps
from robaudit.references.checkpoint import ReferenceNet
from robaudit.references.regularizers import Pairs, Regularizer


class Trainee(nn.Module):
    """forward(x (B, C, H, W), x_reg) → (logits (B, K), regularizer output or None).

    Similarity kinds: x_reg holds the 2P images of P pairs (first members, then second) and the
    output is S_cnn (P,). Response kind: x_reg holds P images and the output is (P, A).
    One module (and one forward) so DDP sees every trained parameter.
    """

    def __init__(self, net: ReferenceNet, regularizer: Regularizer | None) -> None:
        super().__init__()
        self.net, self.regularizer = net, regularizer
        self.head = None if regularizer is None else regularizer.head

    def forward(self, x: Tensor, x_reg: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        logits = self.net(x)
        if x_reg is None or self.regularizer is None or self.head is None:
            return logits, None
        layers = self.regularizer.layers
        with FeatureTaps(self.net.backbone, layers) as taps:
            self.net(x_reg)
            feats = [taps.features[name] for name in layers]
        return logits, self.regularizer.apply_head(self.head, feats)


def augment(x: Tensor, gen: torch.Generator, pad: int = 4) -> Tensor:
    """Random crop after zero-padding by ``pad`` px and random horizontal flip, batched.

    x (B, C, H, W) on any device; the randomness comes from the CPU generator ``gen``.
    """
    b, _, h, w = x.shape
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    rows = oy[:, None] + torch.arange(h)
    cols = ox[:, None] + torch.arange(w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    padded = F.pad(x, (pad, pad, pad, pad))
    dev = x.device
    out = padded[
        torch.arange(b, device=dev)[:, None, None],
        :,
        rows.to(dev)[:, :, None],
        cols.to(dev)[:, None, :],
    ]  # (B, H, W, C): advanced indices first, then the sliced channel axis
    return out.permute(0, 3, 1, 2).contiguous()


def jitter(x: Tensor, gen: torch.Generator, amount: float) -> Tensor:
    """Add a per-image, per-channel offset uniform in ±amount, clip to [0, 1]. x (B, C, H, W).

    Makes the mean colour (the DC term) an unreliable cue, so a model must use image structure.
    """
    offset = (torch.rand(x.shape[0], x.shape[1], 1, 1, generator=gen) * 2 - 1) * amount
    return (x + offset.to(x.device, x.dtype)).clamp_(0, 1)


def rotate90(x: Tensor, gen: torch.Generator) -> Tensor:
    """Rotate each image by a random multiple of 90° (square images; others by 0° or 180°). x (B, C, H, W)."""
    b, square = x.shape[0], x.shape[-1] == x.shape[-2]
    turns = torch.randint(0, 4, (b,), generator=gen) if square else 2 * torch.randint(0, 2, (b,), generator=gen)
    out = x.clone()
    for k in (1, 2, 3):
        chosen = (turns == k).to(x.device)
        if bool(chosen.any()):
            out[chosen] = torch.rot90(x[chosen], k, dims=(-2, -1))
    return out


def contrast(x: Tensor, gen: torch.Generator, amount: float) -> Tensor:
    """Scale each image about its mean by a factor uniform in 1 ± amount, clip to [0, 1]. x (B, C, H, W)."""
    factor = 1 + (torch.rand(x.shape[0], 1, 1, 1, generator=gen) * 2 - 1) * amount
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * factor.to(x.device, x.dtype) + mean).clamp_(0, 1)


@torch.no_grad()
def regularizer_fit(trainee: Trainee, pairs: tuple[Tensor, Pairs], norm: tuple[Tensor, Tensor]) -> dict[str, float]:
    """Eval-mode loss and Pearson r between model and target on fixed pairs/images.

    ``pairs`` is what the regularizer's ``draw(..., fixed=True)`` returned."""
    reg = trainee.regularizer
    assert reg is not None
    was = trainee.training
    trainee.eval()
    idx, chosen = pairs
    mean, std = norm
    x_reg = (reg.images[idx.to(reg.images.device)] - mean) / std
    _, out = trainee(x_reg[:1], x_reg)
    assert out is not None
    value = reg.loss(out, chosen)
    pred, tgt = reg.prediction_and_target(out, chosen)
    trainee.train(was)
    return {"loss": float(value), "pearson": pearson(pred.flatten(), tgt.flatten())}


def pearson(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two 1-D tensors (0 when either is constant)."""
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    denom = float(a.norm() * b.norm())
    return float((a * b).sum()) / denom if denom > 0 else 0.0


@torch.no_grad()
def accuracy(net: nn.Module, data_x: Tensor, data_y: Tensor, norm: tuple[Tensor, Tensor], batch: int = 256) -> float:
    """Top-1 accuracy of net (eval mode) on images (N, C, H, W) in [0, 1] already on device."""
    was = net.training
    net.eval()
    mean, std = norm
    correct = 0
    for xb, yb in zip(data_x.split(batch), data_y.split(batch), strict=True):
        correct += int((net((xb - mean) / std).argmax(1) == yb).sum())
    net.train(was)
    return correct / max(1, len(data_y))
