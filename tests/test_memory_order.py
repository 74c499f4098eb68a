"""Batches go to the model in channels-last memory order only where the model takes that order:
the attack's (devices.channels_last_if_accepted) and every probe's inference
(ProbeContext.predict_logits), whatever order a probe builds its images in. A model that views its
input as (N, C·H·W), or reads memory ignoring strides, gets the default order."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from robaudit.devices import channels_last_if_accepted
from robaudit.probes import PROBES
from robaudit.probes.base import ORDER_CHECK_IMAGES, ProbeContext
from tests.test_batch_bounds import BATCH, SMALL_SETTINGS, small_context


class ViewsItsInput(nn.Module):
    """A linear model written as many are: ``x.view(n, -1)``, which needs the default order."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x.view(x.shape[0], -1))


def test_a_convolutional_model_gets_channels_last_with_the_same_values_and_logits() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2)).eval()
    x = torch.rand(5, 3, 8, 8)
    reordered = channels_last_if_accepted(model, x)
    assert reordered.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(
        memory_format=torch.channels_last)
    assert torch.equal(reordered, x)
    torch.testing.assert_close(model(reordered), model(x))


def test_a_model_that_views_its_input_keeps_the_default_order() -> None:
    x = torch.rand(5, 3, 8, 8)
    # The premise: torch refuses to view a channels-last batch as (N, C·H·W).
    with torch.no_grad(), pytest.raises(RuntimeError):
        ViewsItsInput()(x.contiguous(memory_format=torch.channels_last))
    kept = channels_last_if_accepted(ViewsItsInput(), x)
    assert kept is x


def test_grey_images_and_flat_inputs_are_left_as_they_are() -> None:
    grey, flat = torch.rand(4, 1, 8, 8), torch.rand(4, 10)
    assert channels_last_if_accepted(nn.Identity(), grey) is grey
    assert channels_last_if_accepted(nn.Identity(), flat) is flat


def test_a_model_that_ignores_strides_keeps_the_default_order() -> None:
    x = torch.rand(5, 3, 8, 8)
    model = OrderRecordingNet("strides")
    with torch.no_grad():  # the premise: it gives other logits for the same images in the other order
        assert not torch.allclose(model(x.contiguous(memory_format=torch.channels_last)), model(x))
    assert channels_last_if_accepted(model, x) is x


class OrderRecordingNet(nn.Module):
    """A small CNN (10 classes): ``kind`` "conv" takes either order, "view" views its input as
    (N, C·H·W), "strides" reads it ignoring strides. Records, for each batch it took without error,
    whether it came channels-last and its size."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.kind = kind
        self.conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                                  nn.Flatten(), nn.Linear(128, 10))
        self.linear = nn.Linear(3 * 32 * 32, 10)
        self.calls: list[tuple[bool, int]] = []

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "view":
            out = self.linear(x.view(len(x), -1))
        else:
            n, c, h, w = x.shape
            out = self.conv(torch.as_strided(x, x.shape, (c * h * w, h * w, w, 1)) if self.kind == "strides" else x)
        self.calls.append((x.is_contiguous(memory_format=torch.channels_last), len(x)))
        return out


def order_context(net: OrderRecordingNet) -> ProbeContext:
    ctx = small_context(net)
    net.calls.clear()
    return ctx


@pytest.mark.parametrize("name", sorted(SMALL_SETTINGS))
@pytest.mark.parametrize("kind", ["conv", "view", "strides"])
def test_every_probe_feeds_channels_last_only_to_a_model_that_takes_it(name: str, kind: str) -> None:
    probe_class = PROBES.get(name)
    net = OrderRecordingNet(kind)
    probe_class(probe_class.Settings(**SMALL_SETTINGS[name]))(order_context(net))
    assert net.calls, f"{name} never called the model"
    # One decision per inference context and per attack unit (the adversarial probe: 2 units and
    # the sanity checks), each trying a few images in both orders.
    decisions = 1 + 3 * (name == "adversarial_spectrum")
    channels_last = [size for last, size in net.calls if last]
    if kind == "conv":
        assert all(last for last, size in net.calls if size > ORDER_CHECK_IMAGES), name
    elif kind == "view":
        assert not channels_last, f"{name} fed a model that views its input a channels-last batch"
    else:
        assert len(channels_last) <= decisions and len(net.calls) > 2 * len(channels_last), name


@pytest.mark.parametrize("kind", ["conv", "strides"])
def test_inference_logits_are_those_of_the_default_order(kind: str) -> None:
    ctx = order_context(OrderRecordingNet(kind))
    x = torch.rand(20, 3, 32, 32)
    default = ProbeContext(model=ctx.model, data=ctx.data, device=ctx.device, batch_size=BATCH, channels_last=False)
    torch.testing.assert_close(ctx.predict_logits(x), default.predict_logits(x))
    assert ctx.channels_last is (kind == "conv") and ORDER_CHECK_IMAGES < BATCH
