"""The sweep's own leaderboard: built with `robaudit compare` into the sweep folder.

Entries that the zoo file gives different settings on purpose (another n_images, dataset or
seed for one entry) make a mixed leaderboard, with a "settings (where they differ)" column, as
``compare --allow-mixed`` would. Differences the zoo does not ask for (e.g. a resumed model
measured on a dataset file that has changed since) are refused, and the files of the previous
leaderboard are removed so that none looks current.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from robaudit.compare.load import IGNORED_SETTINGS
from robaudit.errors import one_line
from robaudit.sweep.plan import ModelJob

TABLES = ("leaderboard.csv", "leaderboard.json", "leaderboard.md", "leaderboard.html")
_OWN_FILE = re.compile(r"leaderboard\.(csv|json|md|html)|[A-Za-z0-9_.-]+\.png")  # what compare writes


def planned_settings(job: ModelJob) -> dict[str, str]:
    """What the model will be measured under, as compare reads it from a report: the data,
    the seed and each selected probe's settings (defaults filled in)."""
    config = job.config
    flat = {"data": config.data, "split": config.split, "data_dir": str(config.data_dir), "seed": str(config.seed)}
    for probe, settings in config.probe_settings().items():
        is_instance = dataclasses.is_dataclass(settings) and not isinstance(settings, type)
        values = dataclasses.asdict(settings) if is_instance else dict(vars(settings))
        for key, value in values.items():
            if f"{probe}.{key}" not in IGNORED_SETTINGS:  # as compare reads reports
                flat[f"{probe}.{key}"] = json.dumps(value, sort_keys=True, default=str)
    return flat


def mixed_on_purpose(jobs: list[ModelJob]) -> bool:
    """True when the zoo file gives its models different settings (compared where two models
    both have a setting, as compare does)."""
    flats = [planned_settings(job) for job in jobs]
    keys = {key for flat in flats for key in flat}
    return any(len({flat[key] for flat in flats if key in flat}) > 1 for key in keys)


def write_board(folder: Path, allow_mixed: bool, earlier: list[str]) -> tuple[str | None, list[str]]:
    """Rewrite the leaderboard; returns (why it could not be written, else None; the files the
    folder now holds from this leaderboard). On failure the files of ``earlier`` (names this
    sweep recorded writing) are removed."""
    try:
        from robaudit.compare import write_leaderboard

        board = write_leaderboard([folder], folder, allow_mixed=allow_mixed)
    except Exception as exc:  # the sweep goes on without a leaderboard; sweep.json says why
        remove_board(folder, earlier)
        return one_line(exc), []
    return None, [*TABLES, *board.get("figures", [])]


def remove_board(folder: Path, names: list[str]) -> None:
    """Remove the leaderboard files a sweep recorded writing (plain names of compare's files only,
    so a tampered record cannot name anything else)."""
    for name in names:
        path = folder / str(name)
        if _OWN_FILE.fullmatch(str(name)) and (path.is_symlink() or path.is_file()):
            path.unlink()
