"""Plan-time checks of one model of a zoo: its folder name, the identity of the local files it
reads (for resume) and whether its dataset can be opened."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from robaudit import digests
from robaudit.errors import RobauditError, describe_exception, one_line
from robaudit.suite import SuiteConfig

NAME_CHARS = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
"""A model's folder name: the characters ``safe_name`` keeps, not starting with '.' (so never
'.', '..' or a hidden folder) and no path separator."""

_HASHES: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime_ns) → sha256


def check_name(name: str) -> None:
    """Refuse a `name:` that is not one plain folder name (it would write outside models/)."""
    if not NAME_CHARS.fullmatch(name) or len(name) > 200:
        raise RobauditError(f"`name: {name}` must be one folder name of letters, digits, '.', '_' and '-' "
                            "(no '/' or '..', not starting with '.', at most 200 characters)")


def file_sha256(path: Path) -> str:
    """The content hash of a file, read once per process while its size and mtime stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = digests.file_sha256(path)
    return _HASHES[key]


def input_files(config: SuiteConfig) -> list[Path]:
    """The local files the model's spec and path options name: file:PATH, the .py file of
    py:FILE.py:FUNC, a `weights` file and path-valued probe settings that name a file.
    Folders and datasets are not included (too big to hash on every run)."""
    from robaudit.sweep.options import path_settings, spec_path

    model_file = spec_path(config.model)
    named: list[str] = [] if model_file is None else [model_file[1]]
    if config.weights:
        named.append(config.weights)
    _, pairs = path_settings()
    for probe, settings in sorted(config.probe_options.items()):
        named += [str(v) for k, v in sorted(settings.items()) if (probe, k) in pairs and v is not None]
    paths = [Path(text).expanduser() for text in named if not text.startswith("fetch:")]
    return sorted({p for p in paths if p.is_file()})


def input_hashes(config: SuiteConfig) -> dict[str, str]:
    """path → sha256 of each of :func:`input_files`; an unreadable file is one RobauditError line."""
    hashes = {}
    for path in input_files(config):
        try:
            hashes[str(path)] = file_sha256(path)
        except OSError as exc:
            raise RobauditError(f"cannot read {path}: {exc.strerror}") from None
    return hashes


def zoo_wording(text: str) -> str:
    """A data loader's hint about `score` flags, reworded for a zoo file's keys."""
    text = text.replace("pass --data-dir", "set `data_dir:`").replace("--data-dir", "`data_dir:`")
    return text.replace("--download", "`download: true`")


class DataCheck:
    """Checks each model's dataset: known name, its paths, and that it opens (once per distinct
    data, split, data_dir and resize; the loaded set is not kept)."""

    def __init__(self) -> None:
        self.opened: dict[tuple[Any, ...], str | None] = {}

    def __call__(self, config: SuiteConfig) -> None:
        from robaudit.data import DATASETS

        name, _, arg = config.data.partition(":")
        DATASETS.get(name)
        if name in ("npz", "folder") and not Path(arg).expanduser().exists():
            raise RobauditError(f"dataset path {arg} does not exist")
        if config.data_dir is not None and not config.data_dir.is_dir():
            raise RobauditError(f"data_dir {config.data_dir} is not a folder")
        if config.download:  # fetched when the model runs; nothing to open yet
            return
        key = (config.data, config.split, os.fspath(config.data_dir or ""), config.resize)
        if key not in self.opened:
            self.opened[key] = _open(config)
        if self.opened[key] is not None:
            raise RobauditError(str(self.opened[key]))


def _open(config: SuiteConfig) -> str | None:
    """Load the dataset as the run will (without the model); the reason it cannot, else None."""
    from robaudit.data import load_dataset

    try:
        load_dataset(config.data, split=config.split, data_dir=config.data_dir, resize=config.resize)
    except RobauditError as exc:
        return f"dataset {config.data}: {zoo_wording(one_line(exc))}"
    except (OSError, ValueError) as exc:  # an unreadable or malformed file the loader did not name
        return f"dataset {config.data} cannot be opened: {describe_exception(exc)}"
    return None
