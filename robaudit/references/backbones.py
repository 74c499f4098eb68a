"""Backbones for reference models: CIFAR-size ResNet18/34, a small CNN, torchvision/timm models.

The CIFAR ResNet is hand-written because neither torchvision nor timm ships the CIFAR variant
(3×3 stride-1 stem, no max-pool) that the 2019/2023 papers trained; the block layout follows
He et al. 2016 / torchvision's BasicBlock. Everything else comes from torchvision or timm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from robaudit.errors import RobauditError, one_line
from robaudit.registry import Registry, suggest

CIFAR_DEPTHS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
POOL_NAMES = ("pool", "avgpool", "global_pool", "head.global_pool")


@dataclass
class ArchSpec:
    """How to rebuild a backbone: arch name ('resnet18', 'small-cnn', 'timm:NAME', ...)."""

    arch: str
    num_classes: int
    in_chans: int = 3
    width: float = 1.0
    pretrained: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class BasicBlock(nn.Module):
    """Two 3×3 convs with batch norm and an identity (or 1×1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for 32-px images: (N, C, H, W) normalised → logits (N, classes).

    Named stages for feature taps: stem, layer1..layer4, pool (N, features).
    """

    feature_layers = ("stem", "layer1", "layer2", "layer3", "layer4")

    def __init__(self, depths: tuple[int, ...], num_classes: int, in_chans: int, width: float) -> None:
        super().__init__()
        widths = [max(4, round(c * width)) for c in (64, 128, 256, 512)]
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        c_in, stages = widths[0], []
        for i, (c_out, depth) in enumerate(zip(widths, depths, strict=True)):
            blocks = []
            for j in range(depth):
                blocks.append(BasicBlock(c_in, c_out, 2 if (j == 0 and i > 0) else 1))
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(self.pool(x))


class SmallCNN(nn.Module):
    """The small CNN: normalised (N, C, 32, 32) → logits (N, classes), ≈0.14 M parameters at width 1.

    Two 3×3 conv-BN-ReLU layers then a 2× max-pool (block1, 32·w channels), the same again
    (block2, 64·w), one more conv (block3, 128·w), global average pooling (pool) and a linear head.
    The embedded default model is this network at width 0.5; fast enough on 2 CPU cores for
    demos, tests and CPU reference training. Feature taps: block1..block3, pool.
    """

    feature_layers = ("block1", "block2", "block3")

    def __init__(self, num_classes: int, in_chans: int, width: float) -> None:
        super().__init__()
        c1, c2, c3 = (max(4, round(c * width)) for c in (32, 64, 128))

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.block1 = nn.Sequential(*conv(in_chans, c1), *conv(c1, c1), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(*conv(c1, c2), *conv(c2, c2), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(*conv(c2, c3))
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c3, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.block3(self.block2(self.block1(x)))))


# Architectures robaudit builds itself, by --arch name; prefixed names (timm:, torchvision:) come
# from BACKBONE_LIBRARIES.
ARCHITECTURES: Registry[Callable[[ArchSpec], nn.Module]] = Registry("--arch")
BACKBONE_LIBRARIES: Registry[Callable[[str, ArchSpec], nn.Module]] = Registry("--arch library")

ARCHITECTURES.register("resnet18")(lambda s: CifarResNet(CIFAR_DEPTHS["resnet18"], s.num_classes, s.in_chans, s.width))
ARCHITECTURES.register("resnet34")(lambda s: CifarResNet(CIFAR_DEPTHS["resnet34"], s.num_classes, s.in_chans, s.width))
ARCHITECTURES.register("small-cnn")(lambda s: SmallCNN(s.num_classes, s.in_chans, s.width))


def build_backbone(spec: ArchSpec) -> nn.Module:
    """Build the backbone named by spec.arch (weights from pretraining only when asked)."""
    prefix, sep, name = spec.arch.partition(":")
    if sep and name and prefix in BACKBONE_LIBRARIES:
        return BACKBONE_LIBRARIES.get(prefix)(name, spec)
    try:
        return ARCHITECTURES.get(spec.arch)(spec)
    except RobauditError as exc:
        libraries = ", ".join(f"{p}:NAME" for p in BACKBONE_LIBRARIES.names())
        raise RobauditError(f"{exc} Or a library model: {libraries}.") from None


@BACKBONE_LIBRARIES.register("timm")
def _timm(name: str, spec: ArchSpec) -> nn.Module:
    import timm

    known = timm.list_models(pretrained=False)
    if name not in known:
        raise RobauditError(f"timm has no model {name!r}.{suggest(name, known)} See `robaudit models --source timm`.")
    try:
        return timm.create_model(name, pretrained=spec.pretrained, num_classes=spec.num_classes, in_chans=spec.in_chans)
    except Exception as exc:  # timm/hub raise many types when weights cannot be fetched
        if not spec.pretrained:
            raise
        raise RobauditError(
            f"cannot get pretrained weights for timm:{name} ({one_line(exc)[:120]}); "
            "pass --no-pretrained to train from scratch"
        ) from None


@BACKBONE_LIBRARIES.register("torchvision")
def _torchvision(name: str, spec: ArchSpec) -> nn.Module:
    import torchvision

    known = torchvision.models.list_models()
    if name not in known:
        raise RobauditError(f"torchvision has no model {name!r}.{suggest(name, known)} "
                            "See `robaudit models --source torchvision`.")
    if spec.in_chans != 3:
        raise RobauditError("torchvision backbones take 3 channels (grey models repeat the channel)")
    if not spec.pretrained:
        return torchvision.models.get_model(name, weights=None, num_classes=spec.num_classes)
    try:
        net = torchvision.models.get_model(name, weights="DEFAULT")
    except Exception as exc:  # download failures surface as URLError/OSError/RuntimeError
        raise RobauditError(
            f"cannot get pretrained weights for torchvision:{name} "
            f"({one_line(exc)[:120]}); pass --no-pretrained to train from scratch"
        ) from None
    _replace_head(net, spec.num_classes)
    return net


def _replace_head(net: nn.Module, num_classes: int) -> None:
    """Swap the last nn.Linear classifier for one with num_classes outputs (fine-tuning)."""
    last_name, last = None, None
    for mod_name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = mod_name, module
    if last is None or last_name is None:
        raise RobauditError("cannot find the classifier (a final nn.Linear) to replace")
    if last.out_features == num_classes:
        return
    parent = net.get_submodule(last_name.rpartition(".")[0]) if "." in last_name else net
    setattr(parent, last_name.rpartition(".")[2], nn.Linear(last.in_features, num_classes))


def default_feature_layers(backbone: nn.Module) -> list[str]:
    """Layers whose outputs feed the similarity (stem and each stage, as the 2019 paper)."""
    layers = getattr(backbone, "feature_layers", None)
    if layers:
        return list(layers)
    names = dict(backbone.named_modules())
    stages = [f"layer{i}" for i in range(1, 5)]
    if all(s in names for s in stages):
        return stages
    if "stages" in names:  # timm convnext/regnet-style
        return [n for n in names if n.count(".") == 1 and n.startswith("stages.")]
    children = ", ".join(n for n, _ in backbone.named_children())
    raise RobauditError(f"give --layers for this backbone; its top-level modules: {children}")


def default_readout_layer(backbone: nn.Module) -> str:
    """The pooled penultimate layer (the default response/predictor readout point)."""
    names = dict(backbone.named_modules())
    for name in POOL_NAMES:
        if name in names:
            return name
    raise RobauditError("give --layer for this backbone (no pooled penultimate layer found)")


def check_layers(backbone: nn.Module, layers: list[str]) -> None:
    """Raise a clear error if a requested layer name is not a module of the backbone."""
    names = dict(backbone.named_modules())
    missing = [n for n in layers if n not in names]
    if missing:
        children = ", ".join(n for n, _ in backbone.named_children())
        raise RobauditError(f"no layer(s) {missing} in the backbone; top-level modules: {children}")


@torch.no_grad()
def feature_shapes(backbone: nn.Module, layers: list[str], input_size: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Output shape (without batch) of each named layer for an input of input_size (C, H, W)."""
    taps = FeatureTaps(backbone, layers)
    was_training = backbone.training
    backbone.eval()
    with taps:
        backbone(torch.zeros(1, *input_size))
        sizes = [tuple(taps.features[n].shape[1:]) for n in layers]
    backbone.train(was_training)
    return sizes


class FeatureTaps:
    """Context manager: forward hooks that keep the outputs of named modules in ``features``."""

    def __init__(self, backbone: nn.Module, layers: list[str]) -> None:
        check_layers(backbone, layers)
        self.backbone, self.layers = backbone, layers
        self.features: dict[str, Tensor] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> FeatureTaps:
        for name in self.layers:
            module = self.backbone.get_submodule(name)
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str) -> Any:
        def keep(module: nn.Module, args: Any, output: Any) -> None:
            self.features[name] = output[0] if isinstance(output, tuple) else output

        return keep

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
