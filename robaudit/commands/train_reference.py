"""`robaudit train-reference KIND`: train a baseline, blur, PCA or regularized reference model.

The lead registers it with ``app.command("train-reference")(command)``. All logic lives in
:mod:`robaudit.references`; this maps flags onto a TrainSpec and recipe overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from robaudit.errors import RobauditError

Opt = typer.Option
KIND_HELP = "baseline | blur | pca | neural | pixel | response"


def command(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    dataset: Annotated[str, Opt("--dataset", help="training dataset spec")] = "embedded",
    arch: Annotated[
        str, Opt(help="resnet18 | resnet34 (CIFAR-size) | small-cnn | timm:NAME | torchvision:NAME")
    ] = "resnet18",
    out: Annotated[Path, Opt("--out", help="checkpoint to write")] = Path("reference.pt"),
    recipe: Annotated[str, Opt(help="default | paper (published settings)")] = "default",
    seed: Annotated[int, Opt(help="drives every random choice")] = 0,
    device: Annotated[str, Opt(help="auto | cpu | cuda[:N]")] = "auto",
    data_dir: Annotated[Path | None, Opt(help="folder holding the dataset files")] = None,
    sigma: Annotated[float | None, Opt(help="blur: Gaussian σ in pixels")] = None,
    components: Annotated[int | None, Opt(help="pca: number of principal components K")] = None,
    pca_centre: Annotated[bool | None, Opt("--pca-centre/--pca-no-centre", help="pca: keep the mean image")] = None,
    similarity: Annotated[Path | None, Opt(help="neural: target similarity S.npy (N × N)")] = None,
    responses: Annotated[Path | None, Opt(help="neural/response: R.npy, N × neurons or N × repeats × neurons")] = None,
    reg_images: Annotated[Path | None, Opt(help="the N regularization images X.npy")] = None,
    reg_data: Annotated[str | None, Opt(help="pixel/response: regularization dataset spec")] = None,
    predictor: Annotated[str | None, Opt(help="response: model spec whose outputs are targets")] = None,
    alpha: Annotated[float | None, Opt(help="regularization strength α")] = None,
    threshold: Annotated[float | None, Opt(help="pixel: similarity threshold Th")] = None,
    layers: Annotated[str | None, Opt(help="neural/pixel: comma-separated layer names for S_cnn")] = None,
    layer: Annotated[str | None, Opt(help="response: layer the readout reads")] = None,
    loss: Annotated[str, Opt(help="response: poisson | mse")] = "poisson",
    grey: Annotated[bool | None, Opt("--grey/--rgb", help="train on greyscale images")] = None,
    width: Annotated[float | None, Opt(help="channel multiplier (resnet18/34, small-cnn)")] = None,
    pretrained: Annotated[
        bool | None, Opt("--pretrained/--no-pretrained", help="timm/torchvision: start pretrained")
    ] = None,
    epochs: Annotated[int | None, Opt(help="training epochs")] = None,
    batch_size: Annotated[int | None, Opt(help="classification batch (global)")] = None,
    lr: Annotated[float | None, Opt(help="peak learning rate")] = None,
    set_: Annotated[list[str] | None, Opt("--set", help="any recipe setting, KEY=VALUE (repeatable)")] = None,
    resume: Annotated[bool, Opt("--resume/--no-resume", help="continue a killed run")] = True,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Train a reference model (spec §4–6) and write a checkpoint `robaudit score` can load."""
    from robaudit.references.recipes import parse_sets
    from robaudit.references.setup import TrainSpec
    from robaudit.references.train import train_reference

    given: dict[str, Any] = {
        "sigma": sigma,
        "components": components,
        "pca_centre": pca_centre,
        "alpha": alpha,
        "threshold": threshold,
        "grey": grey,
        "width": width,
        "pretrained": pretrained,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    for key, value in parse_sets(set_ or []).items():
        if key in overrides:
            raise RobauditError(f"--set {key}=… repeats the --{key.replace('_', '-')} flag")
        overrides[key] = value
    spec = TrainSpec(
        kind=kind,
        dataset=dataset,
        arch=arch,
        out=out,
        recipe=recipe,
        overrides=overrides,
        seed=seed,
        device=device,
        data_dir=data_dir,
        similarity=similarity,
        responses=responses,
        reg_images=reg_images,
        reg_data=reg_data,
        predictor=predictor,
        layers=[s.strip() for s in layers.split(",") if s.strip()] if layers else None,
        layer=layer,
        loss=loss,
        resume=resume,
        quiet=quiet,
    )
    ckpt = train_reference(spec)
    _summary(ckpt["meta"])


def _summary(meta: dict[str, Any]) -> None:
    import os

    from rich.console import Console

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 evaluates and reports
        return

    console = Console()
    last = meta["curve"][-1] if meta["curve"] else {}
    console.print(
        f"[bold]{meta['name']}[/bold]: {len(meta['curve'])} epochs, "
        f"train acc {last.get('train_acc', float('nan')):.3f}, "
        f"test acc {last.get('test_acc', float('nan')):.3f}"
    )
    fit = meta.get("regularizer_fit")
    if fit and fit.get("after"):
        console.print(
            f"regularizer fit (loss / Pearson r vs target): before {fit['before']['loss']:.3f} / "
            f"{fit['before']['pearson']:.3f}, after {fit['after']['loss']:.3f} / "
            f"{fit['after']['pearson']:.3f}"
        )
    if meta.get("gamma"):
        console.print("layer weights γ: " + ", ".join(f"{k} {v:.3f}" for k, v in meta["gamma"].items()))
