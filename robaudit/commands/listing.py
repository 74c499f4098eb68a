"""`robaudit models`, `datasets` and `probes`: what each registry offers."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

Opt = typer.Option
out_console = Console()


def models(
    pattern: Annotated[str, typer.Argument(help="glob or substring")] = "*",
    source: Annotated[str | None, Opt(help="only this source")] = None,
    json_out: Annotated[bool, Opt("--json")] = False,
) -> None:
    """List what each model source offers (timm, torchvision, RobustBench zoo, ...)."""
    from robaudit.models import MODEL_SOURCES, list_models

    if source:
        MODEL_SOURCES.get(source)
    listing = list_models(pattern, source)
    if json_out:
        print(json.dumps(listing, indent=2))
        return
    for prefix, names in listing.items():
        description = MODEL_SOURCES.get(prefix).description
        out_console.print(f"[bold]{prefix}:[/] {description} — {len(names)} match(es)")
        for name in names:
            out_console.print(f"  {prefix}:{name}")


def datasets() -> None:
    """List the dataset sources."""
    from robaudit.data import DATASETS

    for name in DATASETS.names():
        out_console.print(f"[bold]{name}[/]: {DATASETS.get(name).description}")


def probes() -> None:
    """List the probes and their settings."""
    from robaudit.config import settings_info
    from robaudit.probes import PROBES

    for name in PROBES.names():
        out_console.print(f"[bold]{name}[/]")
        for info in settings_info(PROBES.get(name).Settings):
            flag = f" (--{info.flag})" if info.flag else ""
            out_console.print(f"  --set {name}.{info.name}=…{flag}: {info.help} [default: {info.default}]",
                              highlight=False)
