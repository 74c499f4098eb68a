"""`robaudit corrupt DATASET --out DIR`: write a CIFAR-10-C-layout set from any dataset.

The lead registers it with ``app.command("corrupt")(command)``; the work is
:func:`robaudit.corruptions.make_set.corrupt_dataset` (layout and reruns described there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from robaudit.config import settings_info
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
    from rich.progress import track

    from robaudit.corruptions.make_set import corrupt_dataset

    names = [n.strip() for n in corruptions.split(",") if n.strip()] if corruptions else None
    written = corrupt_dataset(dataset, out, corruptions=names, split=split, data_dir=data_dir, seed=seed,
                              device=device, reference_size=reference_size, n_images=n_images, overwrite=overwrite,
                              track=lambda it, desc, total: track(it, description=desc, total=total))
    manifest = json.loads((out / "manifest.json").read_text())
    typer.echo(f"wrote {len(written)} corruption files ({manifest['n_images']} images × 5 severities) to {out}")
