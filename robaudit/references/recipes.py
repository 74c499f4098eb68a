"""Training recipes: a sensible default and `paper` (the published settings), all overridable.

Every field of :class:`Recipe` is recorded in the checkpoint. ``notes`` lists the values the
papers do not state, so a report can say which settings are the project's choice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from robaudit.errors import RobauditError
from robaudit.registry import suggest

KINDS = ("baseline", "blur", "pca", "neural", "pixel", "response")
RECIPES = ("default", "paper")


@dataclass
class Recipe:
    """All hyper-parameters of one training run (units: pixels, epochs, images)."""

    epochs: int = 30
    batch_size: int = 128
    pair_batch: int = 16  # pairs (similarity) or images (response) per step
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | step-reset (2019 paper) | constant
    warmup_epochs: float = 1.0
    lr_decay: float = 0.3  # step-reset: factor every lr_step epochs
    lr_step: int = 4
    lr_reset_epoch: int = 20  # step-reset: back to lr at this epoch
    augment: bool = True  # random crop (pad H/8 px) + horizontal flip, batched on the device
    jitter: float = 0.0  # per-image, per-channel brightness offset, uniform in ±jitter
    label_smoothing: float = 0.0
    grey: bool = False
    pretrained: bool = True  # timm:/torchvision: backbones only
    width: float = 1.0  # channel multiplier of resnet18/34/small-cnn
    alpha: float = 0.0  # regularization strength (kind-dependent default)
    sigma: float = 1.5  # blur σ, pixels
    components: int = 512  # PCA K
    pca_centre: bool = True  # x' = μ + UᵀU(x − μ); False: the paper's UᵀU x
    threshold: float = 0.8  # pixel target Th
    reg_size: int = 5000  # at most this many regularization images (seeded subset)
    readout_pool: int = 1  # response readout: average-pool maps to pool × pool
    amp: bool = True  # mixed precision on CUDA (bf16 where supported, else fp16 + scaler)
    channels_last: bool = True  # on CUDA
    eval_images: int = 2000  # test images scored after every epoch (0: none)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def make_recipe(name: str, kind: str, arch: str, image_size: int, overrides: dict[str, Any] | None = None) -> Recipe:
    """The recipe ``name`` for this kind/arch/image size, with ``overrides`` applied last."""
    if kind not in KINDS:
        raise RobauditError(f"unknown reference kind {kind!r}.{suggest(kind, list(KINDS))}")
    if name == "default":
        recipe = _default(kind, arch, image_size)
    elif name == "paper":
        recipe = _paper(kind, arch, image_size)
    else:
        raise RobauditError(f"unknown --recipe {name!r}; use one of {', '.join(RECIPES)}")
    return apply_overrides(recipe, overrides or {})


def _pretrained_arch(arch: str) -> bool:
    return arch.startswith(("timm:", "torchvision:"))


def _default(kind: str, arch: str, image_size: int) -> Recipe:
    alpha = {"neural": 10.0, "pixel": 10.0, "response": 1.0}.get(kind, 0.0)
    recipe = Recipe(alpha=alpha, sigma=1.5 if image_size <= 64 else 3.0)
    if _pretrained_arch(arch):  # fine-tuning from pretrained weights
        recipe.lr, recipe.epochs, recipe.batch_size, recipe.warmup_epochs = 0.01, 10, 64, 0.0
    return recipe


def _paper(kind: str, arch: str, image_size: int) -> Recipe:
    """Li et al. 2019 (neural, SGD 40 epochs, batch 64, lr 0.1 ×0.3 every 4 epochs, reset at
    20, α = 20, 16 pairs, grey CIFAR); Attias et al. (pixel: α = 10, Th = 0.8, same schedule);
    Li et al. 2023 (blur σ = 1.5 px CIFAR / 3 px ImageNet fine-tuned, PCA K = 512)."""
    recipe = Recipe(
        epochs=40,
        batch_size=64,
        pair_batch=16,
        lr=0.1,
        nesterov=False,
        schedule="step-reset",
        warmup_epochs=0.0,
        sigma=1.5 if image_size <= 64 else 3.0,
        components=512,
        threshold=0.8,
        alpha={"neural": 20.0, "pixel": 10.0, "response": 1.0}.get(kind, 0.0),
        grey=kind == "neural",
    )
    recipe.notes = [
        "momentum 0.9, weight decay 5e-4 and crop+flip augmentation are not stated in the papers",
    ]
    if kind in ("blur", "pca"):
        recipe.notes.append("the 2023 paper does not state its CIFAR schedule; the 2019 one is used")
    if kind == "response":
        recipe.notes.append("Safarani et al. / Ma & Shao schedules are not reproduced; α = 1")
    if _pretrained_arch(arch):
        recipe.lr, recipe.epochs, recipe.schedule = 0.01, 10, "cosine"
        recipe.notes.append("ImageNet fine-tuning schedule (lr 0.01, 10 epochs) is the project's")
    return recipe


def apply_overrides(recipe: Recipe, overrides: dict[str, Any]) -> Recipe:
    """Set fields by name; string values (from --set key=value) are converted to the field type."""
    fields = {f.name: f for f in dataclasses.fields(recipe)}
    for key, value in overrides.items():
        if key not in fields or key == "notes":
            names = [n for n in fields if n != "notes"]
            raise RobauditError(f"unknown recipe setting {key!r}.{suggest(key, names)}")
        current = getattr(recipe, key)
        setattr(recipe, key, _coerce(key, value, type(current)))
    _validate(recipe)
    return recipe


def _coerce(key: str, value: Any, kind: type) -> Any:
    if not isinstance(value, str):
        return kind(value)
    try:
        if kind is bool:
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            return value.lower() in ("1", "true", "yes")
        return kind(value)
    except ValueError:
        raise RobauditError(f"recipe setting {key}={value!r} is not a valid {kind.__name__}") from None


def parse_sets(items: list[str]) -> dict[str, str]:
    """['lr=0.1', 'epochs=3'] → {'lr': '0.1', 'epochs': '3'}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RobauditError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def _validate(r: Recipe) -> None:
    checks = [
        (r.epochs >= 1, "epochs must be ≥ 1"),
        (r.batch_size >= 1 and r.pair_batch >= 1, "batch sizes must be ≥ 1"),
        (r.lr > 0, "lr must be > 0"),
        (r.alpha >= 0, "alpha must be ≥ 0"),
        (r.sigma > 0, "sigma must be > 0 pixels"),
        (r.components >= 1, "components must be ≥ 1"),
        (0 <= r.threshold < 1, "threshold must be in [0, 1)"),
        (r.optimizer in ("sgd", "adamw"), "optimizer must be sgd or adamw"),
        (
            r.schedule in ("cosine", "step-reset", "constant"),
            "schedule must be cosine, step-reset or constant",
        ),
        (r.width > 0, "width must be > 0"),
        (0 <= r.jitter <= 1, "jitter must be in [0, 1]"),
        (r.reg_size >= 2, "reg_size must be ≥ 2"),
    ]
    for ok, message in checks:
        if not ok:
            raise RobauditError(f"bad recipe: {message}")


def learning_rate(recipe: Recipe, epoch: float) -> float:
    """The learning rate at a fractional epoch (0 ≤ epoch < recipe.epochs)."""
    import math

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
