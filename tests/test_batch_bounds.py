"""Bounded memory: no probe ever calls the model on more images than the configured batch size.

Table-driven over every registered probe: the model records the batch size of each forward
pass, and each probe runs on more images than one batch with small settings (fast).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor, nn

from robaudit.probes import PROBES
from robaudit.probes.base import ProbeContext
from tests.conftest import make_imageset, wrap

BATCH = 7  # odd and small: every probe's chunking has to split
SMALL_SETTINGS: dict[str, dict[str, Any]] = {
    "hybrid": {"n_images": 30, "seeds": 1, "grid": [0.0, 0.2, 0.5, 1.0]},
    "adversarial_spectrum": {"protocol": "fast", "n_images": 9, "steps": 4, "restarts": 1,
                             "batch_size": BATCH, "bootstrap": 0},
    "corruptions": {"n_images": 20, "corruptions": ["gaussian_noise", "glass_blur", "fog"], "severities": [2],
                    "noise_sweep": [0.0, 0.1]},
    "fourier_heatmap": {"n_images": 10, "max_size": 3},
    "bandpass": {"n_images": 20, "cutoffs": [0.05, 0.25]},
}


class RecordingNet(nn.Module):
    """A small random CNN (10 classes) that records the batch size of every forward pass."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                                  nn.Flatten(), nn.Linear(128, 10))
        self.batches: list[int] = []

    def forward(self, x: Tensor) -> Tensor:
        self.batches.append(len(x))
        return self.body(x)


def context() -> tuple[ProbeContext, RecordingNet]:
    net = RecordingNet()
    ctx = small_context(net)
    net.batches.clear()
    return ctx, net


def small_context(net: nn.Module) -> ProbeContext:
    """120 random 32×32 images for ``net`` (10 classes), in batches of BATCH. Every other label is
    the model's own prediction, so every probe finds correctly classified images; the rest cycle
    through the classes, so every class is present."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (120, 3, 32, 32), dtype=torch.uint8, generator=generator)
    model = wrap(net, (3, 32, 32), 10)
    labels = torch.arange(len(images)) % 10
    with torch.no_grad():
        labels[::2] = model(images[::2].float() / 255).argmax(1)
    return ProbeContext(model=model, data=make_imageset(images, labels), device=torch.device("cpu"),
                        batch_size=BATCH)


def test_every_registered_probe_has_a_row() -> None:
    assert set(PROBES.names()) <= set(SMALL_SETTINGS), "add small settings for the new probe"


@pytest.mark.parametrize("name", sorted(SMALL_SETTINGS))
def test_no_model_call_exceeds_the_batch_size(name: str) -> None:
    probe_class = PROBES.get(name)
    probe = probe_class(probe_class.Settings(**SMALL_SETTINGS[name]))
    ctx, net = context()
    probe(ctx)
    assert net.batches, f"{name} never called the model"
    assert max(net.batches) <= BATCH, f"{name} called the model on {max(net.batches)} images at once"
