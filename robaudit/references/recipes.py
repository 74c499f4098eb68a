"""Training recipes: ``small`` (CPU-sized), ``default``, ``paper`` (the published settings), all overridable.

Every field of :class:`Recipe` is declared with :func:`robaudit.config.setting`, so its flag, its
``--set`` key, its checks and its help come from that one declaration; every field is recorded in
the checkpoint. ``notes`` lists the values the papers do not state, so a report can say which
settings are the project's choice. Kind-specific defaults (α, grey) come from the kind object.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any

from robaudit.config import build_settings, setting
from robaudit.errors import RobauditError

RECIPES = ("auto", "small", "default", "paper")
SCHEDULES = ("cosine", "step-reset", "constant")


@dataclass
class Recipe:
    """All hyper-parameters of one training run (units: pixels, epochs, images)."""

    epochs: int = setting(30, help="training epochs", flag="epochs", minimum=1)
    batch_size: int = setting(128, help="classification batch (global)", flag="batch-size", minimum=1)
    pair_batch: int = setting(16, help="pairs (similarity) or images (response) per step", minimum=1)
    optimizer: str = setting("sgd", help="optimiser", choices=("sgd", "adamw"))
    lr: float = setting(0.05, help="peak learning rate", flag="lr", minimum=1e-12)
    momentum: float = setting(0.9, help="SGD momentum", minimum=0.0, maximum=1.0)
    nesterov: bool = setting(True, help="Nesterov momentum")
    weight_decay: float = setting(5e-4, help="weight decay", minimum=0.0)
    schedule: str = setting("cosine", help="learning-rate schedule (step-reset: the 2019 paper's)",
                            choices=SCHEDULES)
    warmup_epochs: float = setting(1.0, help="linear warm-up, epochs", minimum=0.0)
    lr_decay: float = setting(0.3, help="step-reset: factor every lr_step epochs", minimum=0.0)
    lr_step: int = setting(4, help="step-reset: epochs between decays", minimum=1)
    lr_reset_epoch: int = setting(20, help="step-reset: back to lr at this epoch", minimum=1)
    augment: bool = setting(True, help="random crop (pad H/8 px) and horizontal flip", flag="augment")
    rotate: bool = setting(False, help="random 90° rotations (textures and photographs tiles)", flag="rotate")
    jitter: float = setting(0.0, help="per-image, per-channel brightness offset, uniform in ±jitter",
                            flag="jitter", minimum=0.0, maximum=1.0)
    contrast: float = setting(0.0, help="per-image contrast factor, uniform in 1 ± contrast", flag="contrast",
                              minimum=0.0, maximum=1.0)
    label_smoothing: float = setting(0.0, help="label smoothing", minimum=0.0, maximum=1.0)
    grey: bool = setting(False, help="train on greyscale images", flag="grey")
    pretrained: bool = setting(True, help="timm/torchvision: start from pretrained weights", flag="pretrained")
    width: float = setting(1.0, help="channel multiplier (resnet18/34, small-cnn)", flag="width", minimum=1e-3)
    alpha: float = setting(0.0, help="regularization strength α (kind-dependent default)", flag="alpha",
                           minimum=0.0)
    sigma: float = setting(1.5, help="blur: Gaussian σ in pixels", flag="sigma", minimum=1e-6)
    components: int = setting(512, help="pca: number of principal components K", flag="components", minimum=1)
    pca_centre: bool = setting(True, help="pca: x' = μ + UᵀU(x − μ); off: the paper's UᵀU x", flag="pca-centre")
    threshold: float = setting(0.8, help="pixel: similarity threshold Th", flag="threshold", minimum=0.0,
                               maximum=0.999999)
    reg_size: int = setting(5000, help="at most this many regularization images (seeded subset)", minimum=2)
    readout_pool: int = setting(1, help="response readout: average-pool maps to pool × pool", minimum=1)
    amp: bool = setting(True, help="mixed precision on CUDA")
    channels_last: bool = setting(True, help="channels-last memory format on CUDA")
    eval_images: int = setting(2000, help="test images scored after every epoch (0: none)", minimum=0)
    notes: list[str] = setting(help="settings the papers do not state", factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def resolve_recipe_name(name: str, dataset: str, device_type: str) -> str:
    """``auto`` → ``small`` on the embedded set or a CPU (minutes), else ``default``."""
    if name != "auto":
        return name
    return "small" if dataset == "embedded" or device_type == "cpu" else "default"


def base_recipe(name: str, image_size: int, pretrained_arch: bool) -> Recipe:
    """The kind-independent recipe ``name`` for images of ``image_size`` px."""
    sigma = 1.5 if image_size <= 64 else 3.0
    if name == "small":  # the small CNN on a CPU: AdamW, no warm-up, photometric augmentation
        return Recipe(epochs=12, batch_size=64, optimizer="adamw", lr=3e-3, warmup_epochs=0.0, width=0.5,
                      rotate=True, jitter=0.25, contrast=0.5, sigma=sigma, eval_images=500)
    if name == "default":
        recipe = Recipe(sigma=sigma)
        if pretrained_arch:  # fine-tuning from pretrained weights
            recipe.lr, recipe.epochs, recipe.batch_size, recipe.warmup_epochs = 0.01, 10, 64, 0.0
        return recipe
    if name == "paper":
        return _paper(image_size, pretrained_arch)
    raise RobauditError(f"unknown --recipe {name!r}; use one of {', '.join(RECIPES)}")


def _paper(image_size: int, pretrained_arch: bool) -> Recipe:
    """Li et al. 2019 (SGD 40 epochs, batch 64, lr 0.1 ×0.3 every 4 epochs, reset at 20, 16 pairs);
    Attias et al. (same schedule); Li et al. 2023 (blur σ = 1.5 px CIFAR / 3 px ImageNet, PCA K = 512)."""
    recipe = Recipe(epochs=40, batch_size=64, pair_batch=16, lr=0.1, nesterov=False, schedule="step-reset",
                    warmup_epochs=0.0, sigma=1.5 if image_size <= 64 else 3.0, components=512, threshold=0.8)
    recipe.notes = ["momentum 0.9, weight decay 5e-4 and crop+flip augmentation are not stated in the papers"]
    if pretrained_arch:
        recipe.lr, recipe.epochs, recipe.schedule = 0.01, 10, "cosine"
        recipe.notes.append("ImageNet fine-tuning schedule (lr 0.01, 10 epochs) is the project's")
    return recipe


def apply_overrides(recipe: Recipe, overrides: dict[str, Any], where: str = "recipe") -> Recipe:
    """Recipe with fields set by name; text values (from --set key=value) are parsed and every
    value is checked (unknown keys name the valid ones)."""
    if "notes" in overrides:
        raise RobauditError("notes is recorded by robaudit, not a setting")
    values = {**{f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe)}, **overrides}
    return build_settings(Recipe, values, where)


def parse_sets(items: list[str]) -> dict[str, str]:
    """['lr=0.1', 'epochs=3'] → {'lr': '0.1', 'epochs': '3'}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RobauditError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def learning_rate(recipe: Recipe, epoch: float) -> float:
    """The learning rate at a fractional epoch (0 ≤ epoch < recipe.epochs)."""
    if recipe.warmup_epochs > 0 and epoch < recipe.warmup_epochs:
        return recipe.lr * (epoch + 1e-3) / recipe.warmup_epochs
    if recipe.schedule == "constant":
        return recipe.lr
    if recipe.schedule == "step-reset":
        e = int(epoch)
        if e >= recipe.lr_reset_epoch:
            e -= recipe.lr_reset_epoch
        return recipe.lr * recipe.lr_decay ** (e // recipe.lr_step)
    span = max(recipe.epochs - recipe.warmup_epochs, 1e-9)
    t = (epoch - recipe.warmup_epochs) / span
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
