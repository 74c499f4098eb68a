"""Inference batches reach the model in channels-last memory order where it takes that order, and
in the default order where it does not (a model that views its input as (N, C·H·W)), whatever
order a probe builds its images in. Table-driven over every registered probe."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from robaudit.probes import PROBES
from robaudit.probes.base import ProbeContext
from tests.conftest import make_imageset, wrap
from tests.test_batch_bounds import BATCH, SMALL_SETTINGS


class OrderRecordingNet(nn.Module):
    """A small CNN (10 classes); with ``flatten_first`` it views its input as (N, C·H·W), which
    only the default memory order allows. Records whether each batch came channels-last."""

    def __init__(self, flatten_first: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.flatten_first = flatten_first
        self.conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                                  nn.Flatten(), nn.Linear(128, 10))
        self.linear = nn.Linear(3 * 32 * 32, 10)
        self.channels_last: list[bool] = []

    def forward(self, x: Tensor) -> Tensor:
        out = self.linear(x.view(len(x), -1)) if self.flatten_first else self.conv(x)
        self.channels_last.append(x.is_contiguous(memory_format=torch.channels_last))  # calls that succeed
        return out


def context(net: OrderRecordingNet) -> ProbeContext:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (120, 3, 32, 32), dtype=torch.uint8, generator=generator)
    model = wrap(net, (3, 32, 32), 10)
    labels = torch.arange(len(images)) % 10
    with torch.no_grad():
        labels[::2] = model(images[::2].float() / 255).argmax(1)
    net.channels_last.clear()
    return ProbeContext(model=model, data=make_imageset(images, labels), device=torch.device("cpu"),
                        batch_size=BATCH)


@pytest.mark.parametrize("name", sorted(SMALL_SETTINGS))
@pytest.mark.parametrize("flatten_first", [False, True])
def test_batches_come_channels_last_where_the_model_takes_that_order(name: str, flatten_first: bool) -> None:
    probe_class = PROBES.get(name)
    net = OrderRecordingNet(flatten_first)
    probe_class(probe_class.Settings(**SMALL_SETTINGS[name]))(context(net))
    assert net.channels_last, f"{name} never called the model"
    if flatten_first:
        assert not any(net.channels_last), f"{name} fed a model that views its input a channels-last batch"
    else:
        assert all(net.channels_last), f"{name} fed a convolutional model a batch in the default order"


def test_logits_in_either_order_agree() -> None:
    net = OrderRecordingNet(flatten_first=False)
    ctx = context(net)
    x = torch.rand(20, 3, 32, 32)
    reordered = ctx.predict_logits(x)
    default = ProbeContext(model=ctx.model, data=ctx.data, device=ctx.device, batch_size=BATCH, channels_last=False)
    torch.testing.assert_close(reordered, default.predict_logits(x))
    assert ctx.channels_last and not any(net.channels_last[-3:])
