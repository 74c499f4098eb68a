"""The metadata a reference checkpoint carries (everything needed to rebuild and to report)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import torch

from robaudit.references.distributed import World
from robaudit.references.spec import Prepared, TrainSpec
from robaudit.versions import package_versions


def build_meta(
    spec: TrainSpec,
    prep: Prepared,
    curve: list[dict[str, Any]],
    world: World,
    device: torch.device,
    seconds: float,
    fit_before: dict[str, float] | None,
) -> dict[str, Any]:
    """The checkpoint's meta dict: the keys robaudit's `file:` source needs, then the record."""
    info = prep.train.info
    c, h, w = info.image_size
    meta: dict[str, Any] = {
        "name": f"{spec.kind}-{prep.arch.arch}-{info.name}",
        "mean": prep.mean,
        "std": prep.std,
        "input_size": [c, h, w],
        "num_classes": info.num_classes,
        "class_names": info.class_names,
        "kind": spec.kind,
        "arch": prep.arch.to_json(),
        "prefilter": prep.prefilter,
        "normalised_input": True,
        "grey": prep.recipe.grey,
        "dataset": {"spec": spec.dataset, **info.to_json()},
        "recipe_name": prep.recipe_name,
        "recipe": prep.recipe.to_json(),
        "overrides": {k: str(v) for k, v in spec.overrides.items()},
        "settings": {**prep.settings, "layers": prep.layers, **_inputs(spec)},
        "curve": curve,
        "seed": spec.seed,
        "versions": package_versions(),
        "device": str(device),
        "world_size": world.size,
        "train_seconds": seconds,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if prep.regularizer is not None:
        meta.update(prep.regularizer.record())
    if fit_before is not None:
        meta["regularizer_fit"] = {
            "before": fit_before,
            "after": curve[-1].get("fit") if curve else None,
        }
    return meta


def _inputs(spec: TrainSpec) -> dict[str, Any]:
    keys = ("similarity", "responses", "reg_images", "reg_data", "predictor", "layer", "loss")
    return {f"input_{k}": str(v) for k, v in asdict(spec).items() if k in keys and v is not None}


def gamma_report(meta: dict[str, Any]) -> str:
    """'stem 0.12, layer1 0.70, ...' from meta['gamma']."""
    return ", ".join(f"{k} {v:.3f}" for k, v in meta.get("gamma", {}).items())
