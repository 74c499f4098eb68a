"""The module that trains: the reference net plus its regularizer head, and per-step helpers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robaudit.references.backbones import FeatureTaps
from robaudit.references.checkpoint import ReferenceNet
from robaudit.references.response import ResponseReadout, response_loss
from robaudit.references.similarity import LayerSimilarity, PairTarget, similarity_loss


class Trainee(nn.Module):
    """forward(x (B, C, H, W), x_reg) → (logits (B, K), regularizer output or None).

    Similarity kinds: x_reg holds the 2P images of P pairs (first members, then second) and the
    output is S_cnn (P,). Response kind: x_reg holds P images and the output is (P, A).
    One module (and one forward) so DDP sees every trained parameter.
    """

    def __init__(self, net: ReferenceNet, head: nn.Module | None, layers: list[str]) -> None:
        super().__init__()
        self.net, self.head, self.layers = net, head, list(layers)

    def forward(self, x: Tensor, x_reg: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        logits = self.net(x)
        if x_reg is None or self.head is None:
            return logits, None
        with FeatureTaps(self.net.backbone, self.layers) as taps:
            self.net(x_reg)
            feats = [taps.features[name] for name in self.layers]
        if isinstance(self.head, LayerSimilarity):
            p = x_reg.shape[0] // 2
            return logits, self.head([f[:p] for f in feats], [f[p:] for f in feats])
        return logits, self.head(feats[0])


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


def sample_pairs(n: int, p: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """P random pairs (i, j) of distinct indices in [0, n)."""
    i = torch.randint(0, n, (p,), generator=gen)
    j = (i + torch.randint(1, n, (p,), generator=gen)) % n
    return i, j


def regularizer_loss(
    out: Tensor,
    head: nn.Module,
    target: PairTarget | Tensor,
    pairs: tuple[Tensor, Tensor],
    loss: str,
) -> Tensor:
    """Similarity loss against S_target(i, j) or response loss against targets[i]."""
    i, j = pairs
    if isinstance(head, LayerSimilarity):
        assert isinstance(target, PairTarget)
        return similarity_loss(out.float(), target(i.to(out.device), j.to(out.device)))
    assert isinstance(head, ResponseReadout) and isinstance(target, Tensor)
    return response_loss(out.float(), target[i.to(target.device)], loss)


@torch.no_grad()
def regularizer_fit(
    trainee: Trainee,
    reg_images: Tensor,
    target: PairTarget | Tensor,
    pairs: tuple[Tensor, Tensor],
    loss: str,
    norm: tuple[Tensor, Tensor],
) -> dict[str, float]:
    """Eval-mode loss and Pearson r between model and target on fixed pairs/images."""
    was = trainee.training
    trainee.eval()
    i, j = pairs
    mean, std = norm
    if isinstance(trainee.head, LayerSimilarity):
        x_reg = (reg_images[torch.cat([i, j]).to(reg_images.device)] - mean) / std
        _, s = trainee(x_reg[:1], x_reg)
        assert s is not None and isinstance(target, PairTarget)
        t = target(i.to(s.device), j.to(s.device))
        pred, tgt, value = s.float(), t, similarity_loss(s.float(), t)
    else:
        x_reg = (reg_images[i.to(reg_images.device)] - mean) / std
        _, out = trainee(x_reg[:1], x_reg)
        assert out is not None and isinstance(target, Tensor)
        tgt = target[i.to(target.device)]
        value = response_loss(out.float(), tgt, loss)
        pred = out.float().exp() if loss == "poisson" else out.float()
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
