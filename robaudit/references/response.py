"""Response / predictor regularization (docs/train_reference.md): a readout from one layer predicts targets.

Targets are recorded responses of the regularization images (Poisson loss for spike counts,
MSE for fMRI) or the outputs of a user-given predictor model run on those images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robaudit.errors import RobauditError

LOSSES = ("poisson", "mse")


class ResponseReadout(nn.Module):
    """Layer features (P, ...) → predicted responses (P, A).

    Spatial maps (P, C, H, W) are average-pooled to pool × pool first, then a linear map; for
    the Poisson loss the output is a log-rate.
    """

    def __init__(self, in_features: int, outputs: int, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.linear = nn.Linear(in_features, outputs)

    def forward(self, feats: Tensor) -> Tensor:
        if feats.ndim == 4:
            feats = F.adaptive_avg_pool2d(feats, self.pool)
        return self.linear(feats.flatten(1).float())


def readout_in_features(feature_shape: tuple[int, ...], pool: int) -> int:
    """Input width of the readout for a layer output of shape (C, H, W) or (D,)."""
    if len(feature_shape) == 3:
        return feature_shape[0] * pool * pool
    return int(np.prod(feature_shape))


def response_loss(pred: Tensor, target: Tensor, kind: str) -> Tensor:
    """Poisson NLL (pred is a log-rate, target counts ≥ 0) or MSE; mean over all entries."""
    if kind == "poisson":
        return F.poisson_nll_loss(pred, target, log_input=True, full=False)
    if kind == "mse":
        return F.mse_loss(pred, target)
    raise RobauditError(f"--loss must be one of {', '.join(LOSSES)}, got {kind!r}")


def prepare_responses(responses: np.ndarray, n_images: int, loss: str) -> Tensor:
    """Check and reduce responses (N, A) or (N, T, A) → (N, A) float32 (trial mean)."""
    if responses.ndim not in (2, 3):
        raise RobauditError(f"--responses must be N × neurons or N × repeats × neurons, got shape {responses.shape}")
    if responses.shape[0] != n_images:
        raise RobauditError(f"--responses has {responses.shape[0]} rows but --reg-images holds {n_images} images")
    if not np.all(np.isfinite(responses)):
        raise RobauditError("--responses contains NaN or infinite values")
    if responses.ndim == 3:
        responses = responses.mean(axis=1)
    if loss == "poisson" and responses.min() < 0:
        raise RobauditError("the Poisson loss needs non-negative responses; use --loss mse")
    return torch.from_numpy(np.asarray(responses, dtype=np.float32))


@torch.no_grad()
def predictor_targets(model: nn.Module, images: Tensor, batch: int = 256) -> Tensor:
    """Run a predictor (an AuditedModel: [0, 1] input, ``.info.input_size``) on images
    (N, C, H, W) in [0, 1] → its outputs (N, A), on the CPU.

    Images are resized (bilinear, antialiased) to the predictor's input size and brought to its
    channel count (mean over channels, repeated) when they differ.
    """
    c, h, w = model.info.input_size  # type: ignore[union-attr, misc]
    device = next(iter(model.buffers()), torch.zeros(())).device
    outputs = []
    for chunk in images.split(batch):
        x = chunk.to(device)
        if x.shape[1] != c:
            x = x.mean(dim=1, keepdim=True).expand(-1, c, -1, -1) if c in (1, 3) else x
        if tuple(x.shape[-2:]) != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        outputs.append(model(x).float().flatten(1).cpu())
    return torch.cat(outputs)
