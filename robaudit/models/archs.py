"""Small architectures robaudit builds itself (the embedded default's CNN), by name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from robaudit.registry import Registry

ARCHITECTURES: Registry[Callable[..., nn.Module]] = Registry("architecture")


@ARCHITECTURES.register("small-cnn")
def small_cnn(in_channels: int = 3, num_classes: int = 10, width: int = 32) -> nn.Module:
    """A 4-conv CNN for 32×32 inputs (≈0.3 M parameters at width 32): trains in seconds on a CPU."""

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(in_channels, width), *block(width, width), nn.MaxPool2d(2),
        *block(width, 2 * width), *block(2 * width, 2 * width), nn.MaxPool2d(2),
        *block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4 * width, num_classes),
    )
