"""Which images the adversarial-spectrum probe attacks, towards which class, from which start."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from robaudit.probes.base import ProbeContext


def select_images(ctx: ProbeContext, n: int) -> dict[str, Any]:
    """The first n correctly classified images of a seeded permutation of ctx.data.

    Returns indices (n',) int64, labels (n',) and how many images were examined and skipped
    (misclassified) before the n-th correct one (n' < n only if the data runs out).
    """
    order = torch.randperm(len(ctx.data), generator=ctx.generator("adversarial", "subset"))
    chosen: list[Tensor] = []
    labels: list[Tensor] = []
    examined = skipped = 0
    for chunk in order.split(max(1, min(n, ctx.batch_size))):  # bounded memory per chunk
        x, y = ctx.load(chunk)
        correct = (ctx.predict_logits(x).argmax(dim=1) == y).cpu()
        need = n - sum(len(c) for c in chosen)
        cut = len(chunk)
        running = correct.cumsum(0)
        if int(running[-1]) >= need:
            cut = int(torch.nonzero(running == need)[0]) + 1
        chosen.append(chunk[:cut][correct[:cut]])
        labels.append(y.cpu()[:cut][correct[:cut]])
        examined += cut
        skipped += int((~correct[:cut]).sum())
        if sum(len(c) for c in chosen) >= n:
            break
    return {"indices": torch.cat(chosen).numpy(), "labels": torch.cat(labels).numpy(),
            "examined": examined, "skipped": skipped}


def draw_targets(ctx: ProbeContext, indices: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """A seeded random wrong class per image, drawn for every data index at once so a given
    image gets the same target for every model (whatever else it classifies correctly)."""
    generator = ctx.generator("adversarial", "targets")
    offsets = torch.randint(1, num_classes, (len(ctx.data),), generator=generator)
    return (labels + offsets[indices]) % num_classes


def find_exemplars(ctx: ProbeContext, classes: Tensor) -> dict[str, Any]:
    """For each class in ``classes`` (m,), the first image of the seeded order that the model
    classifies as that class: ``{"classes": (m,), "index": (m,)}`` int64, index −1 where no image
    of the data is classified so. These are the targets' starting points: of the target class by
    construction, whatever the budget."""
    wanted = sorted(set(classes.tolist()))
    found: dict[int, int] = {}
    order = torch.randperm(len(ctx.data), generator=ctx.generator("adversarial", "subset"))
    for chunk in order.split(ctx.batch_size):
        predicted = ctx.predict_logits(ctx.load(chunk)[0]).argmax(dim=1).cpu()
        for index, c in zip(chunk.tolist(), predicted.tolist(), strict=True):
            if c in wanted and c not in found:
                found[c] = index
        if len(found) == len(wanted):
            break
    return {"classes": np.array(wanted, dtype=np.int64),
            "index": np.array([found.get(c, -1) for c in wanted], dtype=np.int64)}
