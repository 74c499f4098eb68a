"""Regularizers: a head on the backbone's features fitted to targets on regularization images.

A :class:`Regularizer` owns everything that differs between the similarity kinds (neural, pixel)
and the response kind: which images a step runs, how the head reads the tapped features, the loss,
and the fit reported each epoch. The trainer calls these methods and never asks which kind it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from robaudit.references.response import ResponseReadout, response_loss
from robaudit.references.similarity import LayerSimilarity, PairTarget, similarity_loss

Pairs = tuple[Tensor, Tensor]  # (i, j) indices into the regularization images, each (P,)


def sample_pairs(n: int, p: int, gen: torch.Generator) -> Pairs:
    """P random pairs (i, j) of distinct indices in [0, n)."""
    i = torch.randint(0, n, (p,), generator=gen)
    j = (i + torch.randint(1, n, (p,), generator=gen)) % n
    return i, j


class Regularizer(ABC):
    """Head, tapped layers, regularization images (N, C, H, W) in [0, 1] and targets."""

    def __init__(self, head: nn.Module, layers: list[str], images: Tensor, settings: dict[str, Any]) -> None:
        self.head, self.layers, self.images, self.settings = head, list(layers), images, settings

    @abstractmethod
    def draw(self, p: int, gen: torch.Generator, fixed: bool = False) -> tuple[Tensor, Pairs]:
        """(indices of the images to run, the pairs the loss compares) for p pairs or images;
        ``fixed``: a set drawn once for the per-epoch fit (distinct images where possible)."""

    @abstractmethod
    def apply_head(self, head: nn.Module, feats: list[Tensor]) -> Tensor:
        """The head's output from the tapped features of the images ``draw`` chose."""

    @abstractmethod
    def loss(self, out: Tensor, pairs: Pairs) -> Tensor:
        """Scalar loss of the head's output against the targets of ``pairs``."""

    @abstractmethod
    def prediction_and_target(self, out: Tensor, pairs: Pairs) -> tuple[Tensor, Tensor]:
        """What the fit's Pearson r compares: the model's prediction and the target."""

    @abstractmethod
    def to(self, device: torch.device) -> Regularizer:
        """Targets and images moved to ``device``."""

    def record(self) -> dict[str, Any]:
        """Extra checkpoint metadata (e.g. learned layer weights)."""
        return {}


class SimilarityRegularizer(Regularizer):
    """S_cnn(i, j) from the layer similarity of two images against S_target(i, j)."""

    head: LayerSimilarity

    def __init__(self, head: LayerSimilarity, layers: list[str], images: Tensor, target: PairTarget,
                 settings: dict[str, Any]) -> None:
        super().__init__(head, layers, images, settings)
        self.target = target

    def draw(self, p: int, gen: torch.Generator, fixed: bool = False) -> tuple[Tensor, Pairs]:
        i, j = sample_pairs(self.images.shape[0], p, gen)
        return torch.cat([i, j]), (i, j)

    def apply_head(self, head: nn.Module, feats: list[Tensor]) -> Tensor:
        p = feats[0].shape[0] // 2
        return head([f[:p] for f in feats], [f[p:] for f in feats])

    def loss(self, out: Tensor, pairs: Pairs) -> Tensor:
        i, j = pairs
        return similarity_loss(out.float(), self.target(i.to(out.device), j.to(out.device)))

    def prediction_and_target(self, out: Tensor, pairs: Pairs) -> tuple[Tensor, Tensor]:
        i, j = pairs
        return out.float(), self.target(i.to(out.device), j.to(out.device))

    def to(self, device: torch.device) -> SimilarityRegularizer:
        self.images, self.target = self.images.to(device), self.target.to(device)
        return self

    def record(self) -> dict[str, Any]:
        gammas = self.head.gamma.detach().cpu().tolist()
        return {"gamma": dict(zip(self.layers, gammas, strict=True))}


class ResponseRegularizer(Regularizer):
    """A readout from one layer predicts each image's responses (P, A): Poisson or MSE loss."""

    def __init__(self, head: ResponseReadout, layer: str, images: Tensor, targets: Tensor, loss_kind: str,
                 settings: dict[str, Any]) -> None:
        super().__init__(head, [layer], images, settings)
        self.targets, self.loss_kind = targets, loss_kind

    def draw(self, p: int, gen: torch.Generator, fixed: bool = False) -> tuple[Tensor, Pairs]:
        n = self.images.shape[0]
        i = torch.randperm(n, generator=gen)[:p] if fixed else torch.randint(0, n, (p,), generator=gen)
        return i, (i, i)

    def apply_head(self, head: nn.Module, feats: list[Tensor]) -> Tensor:
        return head(feats[0])

    def loss(self, out: Tensor, pairs: Pairs) -> Tensor:
        return response_loss(out.float(), self.targets[pairs[0].to(self.targets.device)], self.loss_kind)

    def prediction_and_target(self, out: Tensor, pairs: Pairs) -> tuple[Tensor, Tensor]:
        pred = out.float().exp() if self.loss_kind == "poisson" else out.float()
        return pred, self.targets[pairs[0].to(self.targets.device)]

    def to(self, device: torch.device) -> ResponseRegularizer:
        self.images, self.targets = self.images.to(device), self.targets.to(device)
        return self
