"""`robaudit compare DIR_OR_REPORT... --out DIR`: the leaderboard of many report cards.

The lead registers it with ``app.command("compare")(command)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def command(
    sources: Annotated[list[Path], typer.Argument(help="sweep folders, score folders or report.json files")],
    out: Annotated[Path, Opt("--out", "-o", help="folder for leaderboard.{csv,json,md,html} and figures")],
    baseline: Annotated[str | None, Opt(help="model name whose corruption errors the mCE column divides by")] = None,
    model_info: Annotated[Path | None, Opt(help="RobustBench model_info JSON file or folder to join by name")] = None,
    allow_mixed: Annotated[bool, Opt(help="compare reports measured under different settings")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="print nothing")] = False,
    json_out: Annotated[bool, Opt("--json", help="print leaderboard.json on stdout")] = False,
) -> None:
    """Build a leaderboard (tables, figures, one self-contained HTML page) from report cards."""
    from rich.console import Console

    from robaudit.compare import write_leaderboard

    board = write_leaderboard(sources, out, baseline=baseline, model_info=model_info, allow_mixed=allow_mixed)
    if json_out:
        print(json.dumps(board, indent=2))
    elif not quiet:
        done = sum(row["status"] == "done" for row in board["rows"])
        Console().print(f"leaderboard of {len(board['rows'])} models ({done} done): "
                        f"{out / 'leaderboard.html'}, leaderboard.md, .csv, .json and {len(board['figures'])} figures")
