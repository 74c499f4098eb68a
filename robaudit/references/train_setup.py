"""What a training run is built from: optimizer, AMP dtype, normalisation and test tensors, and the
fingerprint that ties a resume state to its settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import torch
from torch import Tensor

from robaudit.references.spec import Prepared, TrainSpec
from robaudit.references.trainee import Trainee
from robaudit.seeding import seeded_generator


def optimizer(trainee: Trainee, prep: Prepared) -> torch.optim.Optimizer:
    r = prep.recipe
    head_logits = [p for n, p in trainee.named_parameters() if n == "head.logits"]
    others = [p for n, p in trainee.named_parameters() if n != "head.logits" and p.requires_grad]
    groups = [{"params": others, "weight_decay": r.weight_decay}]
    if head_logits:  # no decay on γ's logits: it would pull the layer weights toward uniform
        groups.append({"params": head_logits, "weight_decay": 0.0})
    if r.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=r.lr)
    return torch.optim.SGD(groups, lr=r.lr, momentum=r.momentum, nesterov=r.nesterov and r.momentum > 0)


def amp_dtype(enabled: bool) -> torch.dtype | None:
    if not enabled:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def norm_tensors(prep: Prepared, device: torch.device) -> tuple[Tensor, Tensor]:
    mean = torch.tensor(prep.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(prep.std, device=device).view(1, -1, 1, 1)
    return mean, std


def test_tensors(prep: Prepared, seed: int, device: torch.device) -> tuple[Tensor, Tensor] | None:
    if prep.test is None or prep.recipe.eval_images <= 0:
        return None
    n = len(prep.test)
    idx = torch.randperm(n, generator=seeded_generator(seed, "eval"))[: prep.recipe.eval_images].sort().values
    x, y = prep.test.load(idx)
    return x.to(device), y.to(device)


def fingerprint(spec: TrainSpec, prep: Prepared) -> str:
    fields = {k: v for k, v in asdict(spec).items() if k not in ("out", "resume", "quiet", "device")}
    payload = {
        "spec": fields,
        "recipe": prep.recipe.to_json(),
        "data": prep.train.info.sha256,
        "settings": prep.settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
