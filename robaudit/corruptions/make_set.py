"""Corrupted copies of a whole dataset in the CIFAR-10-C npy layout (what `robaudit corrupt` runs).

The output is ``<corruption>.npy`` (5·n, H, W, C) uint8 per corruption, severities 1–5 stacked
in blocks of n, ``labels.npy`` (5·n,) and ``manifest.json`` (seed, parameter table, dataset
identity), readable with ``robaudit score --corruptions-dir DIR`` (which checks the manifest
against its data). Reruns of the same set skip finished corruptions; a folder holding another set
is refused unless ``overwrite``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from robaudit.corruptions import CORRUPTION_NAMES, CORRUPTIONS, apply_corruption
from robaudit.corruptions.archive import write_npy_set
from robaudit.corruptions.constants import REFERENCE_SIZES, pick_reference
from robaudit.errors import RobauditError
from robaudit.seeding import seeded_generator

Track = Callable[[Iterable[int], str, int], Iterable[int]]


def corrupt_dataset(dataset: str, out: Path, *, corruptions: list[str] | None = None, split: str = "test",
                    data_dir: Path | None = None, seed: int = 0, device: str = "auto",
                    reference_size: int | None = None, n_images: int | None = None, overwrite: bool = False,
                    track: Track = lambda items, description, total: items) -> list[Path]:
    """Write the corrupted set of ``dataset`` (a spec, as `score --data` takes) into ``out``: every
    corruption (default all 15) at severities 1–5 of its first ``n_images`` images (default all),
    seeded by ``seed``. Returns the files written."""
    from robaudit.atomic import out_lock
    from robaudit.data import load_dataset
    from robaudit.models.wrapper import resolve_device

    names = list(corruptions) if corruptions else list(CORRUPTION_NAMES)
    for name in names:
        CORRUPTIONS.get(name)  # unknown names raise with suggestions
    if reference_size is not None and reference_size not in REFERENCE_SIZES:
        raise RobauditError(f"--reference-size must be one of {', '.join(map(str, REFERENCE_SIZES))}, "
                            f"not {reference_size}")
    dev = resolve_device(device)
    with out_lock(out):  # one writer per folder
        data = load_dataset(dataset, split=split, data_dir=data_dir)
        n = min(len(data), n_images) if n_images else len(data)
        _, h, w = data.info.image_size
        ref, scale = pick_reference(h, w, reference_size)
        chunk = 250 if h * w <= 64 * 64 else 50

        def render(name: str, severity: int, start: int, stop: int) -> np.ndarray:
            x, _ = data.load(torch.arange(start, stop))
            gen = seeded_generator(seed, "corrupt", name, severity, start)
            y = apply_corruption(x.to(dev), name, severity, gen, ref=reference_size)
            return torch.round(y * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

        manifest = {
            "dataset": data.info.to_json(), "seed": seed, "n_images": n, "chunk": chunk,
            "parameter_table": {"reference_size": ref, "scale": scale}, "corruptions": names,
            "layout": "CIFAR-10-C: <corruption>.npy (5·n, H, W, C) uint8, severities 1-5",
        }
        return write_npy_set(out, names, data.labels[:n].numpy(), render, chunk, manifest, track, overwrite)
