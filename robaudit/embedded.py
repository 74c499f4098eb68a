"""The embedded default model: the small CNN trained on the embedded photo patches on first use
(through the reference trainer, small recipe) and cached in $ROBAUDIT_HOME.

The data lives in :mod:`robaudit.data.embedded`; it is re-exported here for callers that want the
whole default in one import.
"""

from __future__ import annotations

import os
from pathlib import Path

from robaudit.data.embedded import PHOTOS, TILE, load_photo_patches, photograph_crops

MODEL_VERSION = "small-cnn-v2"
EPOCHS = 20

__all__ = ["PHOTOS", "TILE", "embedded_model_path", "load_photo_patches", "photograph_crops", "robaudit_home",
           "train_embedded_model"]


def robaudit_home() -> Path:
    """Where robaudit caches models it trains: $ROBAUDIT_HOME or ~/.cache/robaudit."""
    return Path(os.environ.get("ROBAUDIT_HOME", Path.home() / ".cache" / "robaudit"))


def embedded_model_path() -> Path:
    return robaudit_home() / "embedded" / f"{MODEL_VERSION}.pt"


def train_embedded_model(path: Path, epochs: int = EPOCHS, seed: int = 0) -> None:
    """Train the small CNN (width 0.5) on the embedded train split with the small recipe (crops,
    flips, 90° rotations, brightness and contrast jitter) and write a reference checkpoint."""
    from robaudit.references.setup import TrainSpec
    from robaudit.references.train import train_reference

    spec = TrainSpec(kind="baseline", dataset="embedded", arch="small-cnn", out=path, recipe="small",
                     overrides={"epochs": epochs}, seed=seed, device="cpu", resume=False, quiet=True)
    train_reference(spec, train=load_photo_patches("train"), test=load_photo_patches("test"))
