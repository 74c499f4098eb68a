"""The attack's batches go to the model in channels-last order only where the model takes it."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from robaudit.devices import channels_last_if_accepted


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
