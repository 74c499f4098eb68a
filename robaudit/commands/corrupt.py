"""`robaudit corrupt DATASET --out DIR`: write a CIFAR-10-C-layout set from any dataset.

The lead registers it with ``app.command("corrupt")(command)``. The output is
``<corruption>.npy`` (5·n, H, W, C) uint8 per corruption, severities 1–5 stacked in blocks of n,
``labels.npy`` (5·n,) and ``manifest.json`` (seed, parameter table, dataset identity), readable
with ``robaudit score --corruptions-dir DIR`` (which checks the manifest against its --data).
Reruns of the same set skip finished corruptions; a folder holding another set is refused
unless ``--overwrite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from robaudit.config import settings_info
from robaudit.corruptions import CORRUPTION_NAMES, CORRUPTIONS, apply_corruption
from robaudit.corruptions.constants import REFERENCE_SIZES, pick_reference
from robaudit.errors import RobauditError
from robaudit.seeding import seeded_generator
from robaudit.suite_config import SuiteConfig

Opt = typer.Option
DATA_HELP = "dataset spec, as `score --data` takes: " + next(
    i.help for i in settings_info(SuiteConfig) if i.name == "data")


def command(
    dataset: Annotated[str, typer.Argument(help=DATA_HELP)],
    out: Annotated[Path, Opt("--out", "-o", help="folder to write <corruption>.npy + labels.npy")],
    corruptions: Annotated[str | None, Opt(help="comma-separated names (default: all 15)")] = None,
    split: Annotated[str, Opt(help="dataset split")] = "test",
    data_dir: Annotated[Path | None, Opt(help="folder holding the dataset's files")] = None,
    seed: Annotated[int, Opt(min=0, max=2**63 - 1, help="drives every random choice")] = 0,
    device: Annotated[str, Opt(help="auto, cpu or cuda[:N]")] = "auto",
    reference_size: Annotated[int | None, Opt(help="force the 32, 64 or 224 px table (unscaled)")] = None,
    n_images: Annotated[int | None, Opt(min=1, help="first N images only")] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="replace another corruption set already in --out")] = False,
) -> None:
    """Write corrupted copies of DATASET in the CIFAR-10-C npy layout."""
    from robaudit.corruptions.archive import write_npy_set
    from robaudit.data import load_dataset
    from robaudit.models.wrapper import resolve_device
    from robaudit.suite import out_lock

    names = [n.strip() for n in corruptions.split(",") if n.strip()] if corruptions else list(CORRUPTION_NAMES)
    for name in names:
        CORRUPTIONS.get(name)
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
        from rich.progress import track

        labels = data.labels[:n].numpy()
        written = write_npy_set(out, names, labels, render, chunk, manifest,
                                lambda it, desc, total: track(it, description=desc, total=total), overwrite)
    typer.echo(f"wrote {len(written)} corruption files ({n} images × 5 severities) to {out}")
