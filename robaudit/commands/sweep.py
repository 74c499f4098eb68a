"""`robaudit sweep ZOO --out DIR`: one report card per model of a zoo file, plus sweep.json.

The lead registers it with ``app.command("sweep")(command)``. All logic lives in
:mod:`robaudit.sweep`; this maps flags onto ExecutorOptions and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

Opt = typer.Option


def command(
    zoo: Annotated[Path, typer.Argument(help="zoo YAML file (see docs/sweep.md)")],
    out: Annotated[Path, Opt("--out", "-o", help="sweep folder: models/NAME/, sweep.json, leaderboard")] = Path(
        "robaudit-sweep"),
    dry_run: Annotated[bool, Opt("--dry-run", help="list the expanded models and their work; run nothing")] = False,
    executor: Annotated[str, Opt(help="local | ray | slurm")] = "local",
    jobs: Annotated[int, Opt(min=1, help="local: worker processes")] = 1,
    address: Annotated[str | None, Opt(help="ray: auto or ray://HOST:10001 (default: start one here)")] = None,
    gpus_per_model: Annotated[float | None, Opt(min=0, help="ray: GPUs per task (default 1 if any)")] = None,
    cpus_per_model: Annotated[float, Opt(min=0, help="ray/slurm: CPUs per task")] = 1.0,
    max_retries: Annotated[int, Opt(min=0, help="ray: retries on worker or node loss")] = 2,
    slurm_partition: Annotated[str | None, Opt(help="slurm: partition")] = None,
    slurm_gpus_per_task: Annotated[int | None, Opt(min=0, help="slurm: GPUs per array task")] = None,
    slurm_time: Annotated[int, Opt(min=1, help="slurm: time limit per task, minutes")] = 240,
    slurm_cluster: Annotated[str | None, Opt(help="slurm: 'local' runs the array on this machine")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no progress or tables")] = False,
    json_out: Annotated[bool, Opt("--json", help="print sweep.json (or the plan) on stdout")] = False,
) -> None:
    """Audit every model of a zoo file: exit 0 all done, 1 some failed, 2 bad zoo file."""
    from robaudit.cli_options import messages_on_stderr, stdout_for_json_only
    from robaudit.sweep.executors import EXECUTORS, ExecutorOptions
    from robaudit.sweep.progress import summary_table
    from robaudit.sweep.runner import run_sweep

    messages_on_stderr(quiet or json_out)
    console, err = Console(), Console(stderr=True)
    EXECUTORS.get(executor)  # an unknown executor is bad input, with --dry-run too
    if dry_run:
        _dry_run(console, zoo, out, quiet, json_out)
        return
    options = ExecutorOptions(folder=out, jobs=jobs, address=address, gpus_per_model=gpus_per_model,
                              cpus_per_model=cpus_per_model, max_retries=max_retries,
                              slurm_partition=slurm_partition, slurm_gpus_per_task=slurm_gpus_per_task,
                              slurm_time=slurm_time, slurm_cluster=slurm_cluster)
    try:
        with stdout_for_json_only(json_out):
            outcome = run_sweep(zoo, out, executor, options, console=err, show_progress=not (quiet or json_out),
                                command=" ".join(["robaudit", *sys.argv[1:]]))
    except KeyboardInterrupt:
        _interrupted(err, out)
    if json_out:
        print(json.dumps(outcome.record, indent=2))
    elif not quiet:
        console.print(summary_table(outcome.record["models"]))
        console.print(f"sweep record: {out / 'sweep.json'}; report cards under {out / 'models'}")
    if outcome.record.get("leaderboard_error"):  # a failure: reported in every mode
        _line(err, "leaderboard not written", outcome.record["leaderboard_error"])
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _interrupted(err: Console, out: Path) -> NoReturn:
    """Ctrl-C: say what was kept and how to resume; exit 130 without the other commands' hint."""
    kept = (f"each model's status is in {out / 'sweep.json'}; finished models are kept and a model stopped "
            "mid-run resumes from its partial results" if (out / "sweep.json").is_file() else "no model ran")
    _line(err, "interrupted", f"{kept}: run the same `robaudit sweep` command again to resume")
    raise SystemExit(130) from None


def _dry_run(console: Console, zoo: Path, out: Path, quiet: bool, json_out: bool) -> None:
    """The expanded models and their work, as a table or as JSON; nothing runs."""
    from robaudit.sweep.progress import dry_run_table
    from robaudit.sweep.runner import jobs_as_json, plan_only

    planned = plan_only(zoo, out)
    if json_out:
        print(json.dumps(jobs_as_json(planned), indent=2, default=str))
    elif not quiet:
        console.print(dry_run_table(planned))


def _line(err: Console, label: str, text: str) -> None:
    """One line on stderr: the label in red, then ``text`` verbatim (never read as Rich markup)."""
    from rich.markup import escape

    err.print(f"[red]{label}:[/] {escape(text)}", highlight=False, soft_wrap=True)
