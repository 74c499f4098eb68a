"""Everything checked and built before the first training step: recipe, data stats, net, targets.

All user-fixable problems raise RobauditError here (the kind object checks its own inputs), so a
bad input fails in seconds rather than after an epoch.
"""

from __future__ import annotations

import torch
from torch import nn

from robaudit.data.base import ImageSet
from robaudit.references import backbones as bb
from robaudit.references.checkpoint import ReferenceNet
from robaudit.references.inputs import channel_stats, load_data, normalise  # noqa: F401  (public helpers)
from robaudit.references.kinds import REFERENCE_KINDS, ReferenceKind
from robaudit.references.layers import build_prefilter
from robaudit.references.recipes import Recipe, resolve_recipe_name
from robaudit.references.spec import Prepared, TrainSpec
from robaudit.seeding import seeded_generator

__all__ = ["Prepared", "TrainSpec", "channel_stats", "load_data", "normalise", "prepare", "resolve_arch"]


def resolve_arch(arch: str, recipe_name: str) -> str:
    """``auto`` → the small CNN with the small recipe, else the CIFAR ResNet18."""
    if arch != "auto":
        return arch
    return "small-cnn" if recipe_name == "small" else "resnet18"


def prepare(spec: TrainSpec, train: ImageSet, test: ImageSet | None, reg_set: ImageSet | None = None,
            predictor: nn.Module | None = None, device_type: str = "cpu") -> Prepared:
    """Check every input and build the net, fixed layers, regularizer and targets.

    ``predictor``: the loaded model for ``spec.predictor`` (response kind); ``device_type`` picks
    the ``auto`` recipe.
    """
    kind = REFERENCE_KINDS.get(spec.kind)()
    c, h, w = train.info.image_size
    recipe_name = resolve_recipe_name(spec.recipe, spec.dataset, device_type)
    arch_name = resolve_arch(spec.arch, recipe_name)
    recipe = kind.recipe(recipe_name, arch_name, max(h, w), spec.overrides)
    kind.check_inputs(spec)
    pretrained = recipe.pretrained and arch_name.startswith(("timm:", "torchvision:"))
    in_chans = 3 if (arch_name.startswith("torchvision:") or not (recipe.grey or c == 1)) else 1
    arch = bb.ArchSpec(arch_name, train.info.num_classes, in_chans, recipe.width, pretrained)
    prefilter = _prefilter_layers(kind, recipe, c, in_chans, (h, w))
    with torch.random.fork_rng(devices=[]):  # layer init uses the global RNG: scope it to the seed
        torch.manual_seed(spec.seed)
        backbone = bb.build_backbone(arch)
    net = ReferenceNet(build_prefilter(prefilter), backbone)
    prep = Prepared(recipe, train, test, [], [], arch, prefilter, net, recipe_name=recipe_name)
    prep.regularizer = kind.regularizer(spec, prep, reg_set, (in_chans, h, w), predictor)  # reads user files first
    prep.mean, prep.std = channel_stats(train, recipe.grey, seeded_generator(spec.seed, "stats"))
    kind.fit(prep, spec.seed)
    return prep


def _prefilter_layers(kind: ReferenceKind, recipe: Recipe, c: int, in_chans: int,
                      hw: tuple[int, int]) -> list[dict[str, object]]:
    """Greyscale and channel repeat where the recipe asks, then the kind's own fixed layers."""
    layers: list[dict[str, object]] = []
    channels = c
    if recipe.grey and c == 3:
        layers.append({"type": "grey"})
        channels = 1
    if in_chans != channels:
        layers.append({"type": "repeat", "channels": in_chans})
        channels = in_chans
    return layers + kind.prefilter(recipe, channels, hw)
