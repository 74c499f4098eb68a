"""What a training run was asked for (TrainSpec) and what setup built for it (Prepared)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from robaudit.data.base import ImageSet
from robaudit.references import backbones as bb
from robaudit.references.checkpoint import ReferenceNet
from robaudit.references.recipes import Recipe
from robaudit.references.regularizers import Regularizer


@dataclass
class TrainSpec:
    """What `robaudit train-reference` was asked for (the CLI maps its flags onto these)."""

    kind: str
    dataset: str = "embedded"
    arch: str = "auto"  # auto: small-cnn with the small recipe, else resnet18
    out: Path = Path("reference.pt")
    recipe: str = "auto"  # auto: small on the embedded set or a CPU, else default
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    data_dir: Path | None = None
    similarity: Path | None = None
    responses: Path | None = None
    reg_images: Path | None = None
    reg_data: str | None = None
    predictor: str | None = None
    layers: list[str] | None = None
    layer: str | None = None
    loss: str = "poisson"
    resume: bool = True
    quiet: bool = False
    max_steps: int = 0  # stop each epoch after this many steps (0: full epochs); tests/benchmarks


@dataclass
class Prepared:
    """The checked, built pieces a training run needs."""

    recipe: Recipe
    train: ImageSet
    test: ImageSet | None
    mean: list[float]
    std: list[float]
    arch: bb.ArchSpec
    prefilter: list[dict[str, Any]]
    net: ReferenceNet
    regularizer: Regularizer | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    recipe_name: str = "default"

    @property
    def head(self) -> nn.Module | None:
        return None if self.regularizer is None else self.regularizer.head

    @property
    def layers(self) -> list[str]:
        return [] if self.regularizer is None else self.regularizer.layers
