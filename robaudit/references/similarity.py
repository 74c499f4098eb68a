"""Similarity regularization (docs/train_reference.md): S_cnn with learned layer weights, targets and the loss.

Targets are served per pair, never as a full N × N matrix unless one was given: a neural target
from responses and the pixel target are both Gram matrices of unit vectors, S = E Eᵀ, so keeping
E (N × M) and computing S_ij = e_i · e_j on the fly scales to large regularization sets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from robaudit.colour import to_grey
from robaudit.errors import RobauditError

CLAMP = 1.0 - 1e-5


def similarity_loss(s_cnn: Tensor, s_target: Tensor, clamp: float = CLAMP) -> Tensor:
    """mean over pairs of (atanh S_cnn − atanh S_target)², both clamped to ±clamp. Shapes (P,)."""
    a = torch.atanh(s_cnn.clamp(-clamp, clamp))
    b = torch.atanh(s_target.clamp(-clamp, clamp))
    return (a - b).pow(2).mean()


class LayerSimilarity(nn.Module):
    """S_cnn(i, j) = Σ_k γ_k s_k(i, j), γ = softmax(logits), logits start equal.

    s_k is the cosine similarity of layer-k features centred by a running mean (momentum 0.9,
    updated in training mode from each batch, no gradient; the first batch initialises it).
    """

    seen: Tensor

    def __init__(self, layers: list[str], dims: list[int], momentum: float = 0.9) -> None:
        super().__init__()
        self.layers, self.momentum = list(layers), momentum
        self.logits = nn.Parameter(torch.zeros(len(layers)))
        for k, dim in enumerate(dims):
            self.register_buffer(f"mean{k}", torch.zeros(dim))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    @property
    def gamma(self) -> Tensor:
        """The layer weights γ (K,), positive, summing to 1."""
        return torch.softmax(self.logits, dim=0)

    def forward(self, feats_a: list[Tensor], feats_b: list[Tensor]) -> Tensor:
        """Features of the two members of P pairs, one (P, ...) tensor per layer → S_cnn (P,)."""
        sims = []
        for k, (fa, fb) in enumerate(zip(feats_a, feats_b, strict=True)):
            a, b = fa.flatten(1).float(), fb.flatten(1).float()
            mean = self._update_mean(k, torch.cat([a, b]).detach())
            sims.append(torch.cosine_similarity(a - mean, b - mean, dim=1, eps=1e-8))
        if self.training:
            self.seen += 1
        return torch.stack(sims, dim=1) @ self.gamma

    def _update_mean(self, k: int, batch: Tensor) -> Tensor:
        mean: Tensor = getattr(self, f"mean{k}")
        if not self.training and int(self.seen) == 0:
            return batch.mean(dim=0)  # never trained: centre by this batch
        if self.training:
            with torch.no_grad():
                batch_mean = batch.mean(dim=0)
                if int(self.seen) == 0:
                    mean.copy_(batch_mean)
                else:
                    mean.mul_(self.momentum).add_(batch_mean, alpha=1 - self.momentum)
        return mean


class PairTarget:
    """Target similarities for pairs of regularization images: S (N, N) or unit vectors E (N, M).

    With ``threshold`` th, S is replaced by +1 where S > th, −1 where S < −th, else 0 (Attias).
    """

    def __init__(
        self,
        *,
        matrix: Tensor | None = None,
        embedding: Tensor | None = None,
        threshold: float | None = None,
    ) -> None:
        if (matrix is None) == (embedding is None):
            raise ValueError("give exactly one of matrix or embedding")
        self.matrix, self.embedding, self.threshold = matrix, embedding, threshold

    def __len__(self) -> int:
        source = self.matrix if self.matrix is not None else self.embedding
        assert source is not None
        return int(source.shape[0])

    def to(self, device: torch.device) -> PairTarget:
        self.matrix = None if self.matrix is None else self.matrix.to(device)
        self.embedding = None if self.embedding is None else self.embedding.to(device)
        return self

    def __call__(self, i: Tensor, j: Tensor) -> Tensor:
        """S_target for pairs (i[p], j[p]); i, j (P,) int64 → (P,) float32."""
        if self.matrix is not None:
            s = self.matrix[i, j]
        else:
            assert self.embedding is not None
            s = (self.embedding[i] * self.embedding[j]).sum(dim=1)
        return threshold_similarity(s, self.threshold) if self.threshold is not None else s

    def full(self) -> Tensor:
        """The whole N × N target (for tests and small sets)."""
        idx = torch.arange(len(self))
        ii, jj = torch.meshgrid(idx, idx, indexing="ij")
        return self(ii.flatten(), jj.flatten()).view(len(self), len(self))


def threshold_similarity(s: Tensor, threshold: float) -> Tensor:
    """+1 where s > th, −1 where s < −th, 0 otherwise (the atanh clamp handles ±1 later)."""
    return torch.where(s > threshold, 1.0, torch.where(s < -threshold, -1.0, 0.0)).to(s.dtype)


def unit_rows(x: Tensor) -> Tensor:
    """Centre rows by the mean row, then scale each to unit L2 norm. (N, M) → (N, M)."""
    centred = x - x.mean(dim=0, keepdim=True)
    return centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-12)


def pixel_embedding(images: Tensor) -> Tensor:
    """Images (N, C, H, W) in [0, 1] → greyscale, flattened, mean-image centred, unit rows."""
    if images.shape[1] == 3:
        grey = to_grey(images.double())[:, 0]
    elif images.shape[1] == 1:
        grey = images[:, 0].double()
    else:
        raise RobauditError(f"pixel target needs 1- or 3-channel images, got {images.shape[1]}")
    return unit_rows(grey.flatten(1)).float()


def snr_weights(responses: np.ndarray) -> np.ndarray:
    """w_a = σ_a / η_a from responses (N images, T repeats, A neurons) → (A,).

    σ²: variance over images of the trial mean; η²: mean over images of the variance over
    trials. Both are population variances (ddof = 0).
    """
    signal = responses.mean(axis=1).var(axis=0)
    noise = responses.var(axis=1).mean(axis=0)
    if np.any(noise <= 0):
        bad = int(np.sum(noise <= 0))
        raise RobauditError(
            f"{bad} neuron(s) have zero trial-to-trial variance, so their signal-to-noise "
            "weight is undefined; drop them or pass trial-averaged responses (N × neurons)"
        )
    return np.sqrt(signal / noise)


def neural_embedding(responses: np.ndarray) -> tuple[Tensor, np.ndarray | None]:
    """Responses (N, A) or (N, T, A) → unit vectors e (N, A) with S = e eᵀ, and SNR weights.

    With repeats, ρ is the trial mean and r = w · ρ; without, r = ρ.
    """
    weights = None
    if responses.ndim == 3:
        weights = snr_weights(responses)
        rho = responses.mean(axis=1) * weights
    else:
        rho = responses
    return unit_rows(torch.from_numpy(np.asarray(rho, dtype=np.float64))).float(), weights


def check_similarity_matrix(s: np.ndarray, n_images: int) -> None:
    """Raise a clear error unless s is a finite, symmetric (N, N) matrix in [−1, 1]."""
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise RobauditError(f"--similarity must be an N × N matrix, got shape {s.shape}")
    if s.shape[0] != n_images:
        raise RobauditError(
            f"--similarity is {s.shape[0]} × {s.shape[0]} but --reg-images holds {n_images} "
            "images; they must be the same images in the same order"
        )
    if not np.all(np.isfinite(s)):
        raise RobauditError("--similarity contains NaN or infinite values")
    if not np.allclose(s, s.T, atol=1e-5):
        worst = float(np.abs(s - s.T).max())
        raise RobauditError(f"--similarity is not symmetric (max |S − Sᵀ| = {worst:.3g})")
    if np.abs(s).max() > 1 + 1e-5:
        raise RobauditError("--similarity values must lie in [−1, 1] (cosine similarities)")
