"""Model factories for the benchmarks, as ``py:benchmarks/factories.py:NAME`` specs: random
weights (speed and memory only), no download.

    robaudit score --model py:benchmarks/factories.py:resnet50 --data npz:synthetic224.npz
"""

from __future__ import annotations

from typing import Any

import torch
import torchvision
from torch import nn

CIFAR = {"input_size": [3, 32, 32], "num_classes": 10, "mean": [0.4914, 0.4822, 0.4465],
         "std": [0.2471, 0.2435, 0.2616]}
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def cifar_resnet18(num_classes: int = 10) -> dict[str, Any]:
    """A CIFAR-size ResNet18 (3×3 stride-1 stem, no max-pool)."""
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=num_classes)
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    return {"model": net, **CIFAR, "num_classes": num_classes}


def wide_resnet28_10(num_classes: int = 10) -> dict[str, Any]:
    """RobustBench's CIFAR-10 WideResNet-28-10 architecture (its model zoo's own code)."""
    from robaudit.robustbench_import import import_robustbench

    import_robustbench()
    from robustbench.model_zoo.architectures.wide_resnet import WideResNet

    torch.manual_seed(0)
    return {"model": WideResNet(depth=28, widen_factor=10, num_classes=num_classes), **CIFAR,
            "num_classes": num_classes}


def resnet50(num_classes: int = 10) -> dict[str, Any]:
    """torchvision's ResNet-50 for 224-px inputs (``num_classes`` outputs, the data's)."""
    torch.manual_seed(0)
    return {"model": torchvision.models.resnet50(num_classes=num_classes), "input_size": [3, 224, 224],
            "num_classes": num_classes, **IMAGENET}


def resnet18_224(num_classes: int = 10) -> dict[str, Any]:
    """torchvision's ResNet18 for 224-px inputs."""
    torch.manual_seed(0)
    return {"model": torchvision.models.resnet18(num_classes=num_classes), "input_size": [3, 224, 224],
            "num_classes": num_classes, **IMAGENET}


def tiny_cnn() -> nn.Module:
    """A small CNN for any input size (strided convolutions, global pooling): the input size and
    class count come from the dataset. Cheap, so memory measurements show the probe's own memory."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 5, stride=4, padding=2), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
