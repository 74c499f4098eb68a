"""`robaudit train-reference KIND`: train a baseline, blur, PCA or regularized reference model.

The lead registers it with ``app.command("train-reference")(command)``. All logic lives in
:mod:`robaudit.references`; the recipe flags (--epochs, --sigma, …) are generated from the
Recipe's settings metadata, and ``--set KEY=VALUE`` reaches every recipe setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from robaudit import config
from robaudit.cli_options import given_values, messages_on_stderr, typer_parameters, with_parameters
from robaudit.errors import RobauditError
from robaudit.references.backbones import ARCHITECTURES, BACKBONE_LIBRARIES
from robaudit.references.kinds import REFERENCE_KINDS
from robaudit.references.recipes import RECIPES, Recipe

Opt = typer.Option
RECIPE_INFOS = config.settings_info(Recipe)
KIND_HELP = " | ".join(REFERENCE_KINDS.names())
ARCH_HELP = " | ".join(["auto (small-cnn with the small recipe, else resnet18)", *ARCHITECTURES.names(),
                        *(f"{library}:NAME" for library in BACKBONE_LIBRARIES.names())])


def _command(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    dataset: Annotated[str, Opt("--dataset", help="training dataset spec")] = "embedded",
    arch: Annotated[str, Opt(help=ARCH_HELP)] = "auto",
    out: Annotated[Path, Opt("--out", help="checkpoint to write (its resume state sits beside it)")] = Path(
        "reference.pt"),
    recipe: Annotated[str, Opt(help=f"{' | '.join(RECIPES)}; auto: small on the embedded set or a CPU "
                                    "(minutes), else default; paper: the published settings")] = "auto",
    seed: Annotated[int, Opt(min=0, max=2**63 - 1, help="drives every random choice")] = 0,
    device: Annotated[str, Opt(help="auto | cpu | cuda[:N]")] = "auto",
    data_dir: Annotated[Path | None, Opt(help="folder holding the dataset files")] = None,
    similarity: Annotated[Path | None, Opt(help="neural: target similarity S.npy (N × N)")] = None,
    responses: Annotated[Path | None, Opt(help="neural/response: R.npy, N × neurons or N × repeats × neurons")] = None,
    reg_images: Annotated[Path | None, Opt(help="the N regularization images X.npy")] = None,
    reg_data: Annotated[str | None, Opt(help="pixel/response: regularization dataset spec")] = None,
    predictor: Annotated[str | None, Opt(help="response: model spec whose outputs are targets")] = None,
    layers: Annotated[str | None, Opt(help="neural/pixel: comma-separated layer names for S_cnn")] = None,
    layer: Annotated[str | None, Opt(help="response: layer the readout reads")] = None,
    loss: Annotated[str, Opt(help="response: poisson | mse")] = "poisson",
    set_: Annotated[list[str] | None, Opt("--set", help="any recipe setting, KEY=VALUE (repeatable)")] = None,
    resume: Annotated[bool, Opt("--resume/--no-resume", help="continue a killed run")] = True,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no progress bars")] = False,
    **recipe_flags: Any,
) -> None:
    """Train a reference model (docs/train_reference.md) and write a checkpoint `robaudit score` can load."""
    messages_on_stderr(quiet)  # the epoch lines too
    from robaudit.references.setup import TrainSpec
    from robaudit.references.train import train_reference

    overrides = recipe_overrides(recipe_flags, set_ or [])
    spec = TrainSpec(
        kind=kind, dataset=dataset, arch=arch, out=out, recipe=recipe, overrides=overrides, seed=seed,
        device=device, data_dir=data_dir, similarity=similarity, responses=responses, reg_images=reg_images,
        reg_data=reg_data, predictor=predictor,
        layers=[s.strip() for s in layers.split(",") if s.strip()] if layers else None,
        layer=layer, loss=loss, resume=resume, quiet=quiet,
    )
    REFERENCE_KINDS.get(kind)  # an unknown kind fails before any model is loaded
    ckpt = train_reference(spec, predictor=_load_predictor(predictor, device))
    _summary(ckpt["meta"])


command = with_parameters(_command, typer_parameters(RECIPE_INFOS))


def recipe_overrides(flags: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """Given recipe flags plus ``--set`` items, checked against the Recipe's settings (an unknown
    key is an error naming the valid ones; a key given twice is an error)."""
    from robaudit.references.recipes import parse_sets

    overrides = given_values(RECIPE_INFOS, flags)
    for key, value in parse_sets(sets).items():
        if key in overrides:
            raise RobauditError(f"--set {key}=… repeats the --{key.replace('_', '-')} flag")
        overrides[key] = value
    config.build_settings(Recipe, overrides, "train-reference recipe")
    return overrides


def _load_predictor(spec: str | None, device: str) -> Any:
    if spec is None:
        return None
    from robaudit.models import load_model

    return load_model(spec, device=device)


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
