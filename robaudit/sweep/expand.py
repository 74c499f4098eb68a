"""Model catalogues: expand a pattern spec through its source's own listing, and check one name.

`robustbench:cifar10/Linf/*` reads RobustBench's model enumeration and keeps the checkpoints
present under `model_dir` (offline); `timm:resnet*` reads timm's list of pretrained models;
`file:refs/*.pt` is a glob relative to the zoo file. Other sources match their ``available()``.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path
from typing import Any

from robaudit.errors import RobauditError
from robaudit.models import MODEL_SOURCES
from robaudit.registry import Registry, suggest

PATTERN_CHARS = "*?["


def is_pattern(spec: str) -> bool:
    return any(c in spec.partition(":")[2] for c in PATTERN_CHARS)


class Catalogue:
    """What a source offers, for pattern expansion and for checking a name before any run."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def names(self, options: dict[str, Any]) -> list[str]:
        return list(MODEL_SOURCES.get(self.prefix)().available())

    def expand(self, pattern: str, options: dict[str, Any]) -> list[str]:
        """Names matching the glob ``pattern``, sorted."""
        return sorted(n for n in self.names(options) if fnmatch.fnmatchcase(n, pattern))

    def check(self, name: str, options: dict[str, Any]) -> None:
        """Raise a one-line RobauditError (with close matches) if ``name`` is not on offer."""
        names = self.names(options)
        if names and name not in names:
            raise RobauditError(f"unknown {self.prefix} model {name!r}.{suggest(name, names)}")


CATALOGUES: Registry[type[Catalogue]] = Registry("model catalogue")


def catalogue(prefix: str) -> Catalogue:
    MODEL_SOURCES.get(prefix)  # unknown prefix → error with suggestions
    cls = CATALOGUES.get(prefix) if prefix in CATALOGUES else Catalogue
    return cls(prefix)


@CATALOGUES.register("file")
class FileCatalogue(Catalogue):
    """Paths: a glob (already resolved against the zoo file's folder)."""

    def expand(self, pattern: str, options: dict[str, Any]) -> list[str]:
        return sorted(p for p in glob.glob(os.path.expanduser(pattern)) if Path(p).is_file())

    def check(self, name: str, options: dict[str, Any]) -> None:
        if not Path(name).expanduser().is_file():
            raise RobauditError(f"model file {name} does not exist")


@CATALOGUES.register("py")
class PythonCatalogue(Catalogue):
    def expand(self, pattern: str, options: dict[str, Any]) -> list[str]:
        raise RobauditError("py: specs take no pattern; list each factory")

    def check(self, name: str, options: dict[str, Any]) -> None:
        target = name.rpartition(":")[0]
        if target.endswith(".py") and not Path(target).expanduser().is_file():
            raise RobauditError(f"Python file {target} does not exist")


@CATALOGUES.register("timm")
class TimmCatalogue(Catalogue):
    """timm's pretrained models (names with their tag, e.g. resnet18.a1_in1k)."""

    def names(self, options: dict[str, Any]) -> list[str]:
        import timm

        return list(timm.list_models(pretrained=True))

    def check(self, name: str, options: dict[str, Any]) -> None:
        import timm

        if not timm.is_model(name.split(".")[0]):
            raise RobauditError(f"unknown timm model {name!r}.{suggest(name, timm.list_models())}")


def robustbench_model_dir(options: dict[str, Any]) -> Path:
    """Where RobustBench checkpoints live: the entry's model_dir, $ROBAUDIT_ROBUSTBENCH_DIR or ./models."""
    return Path(options.get("model_dir") or os.environ.get("ROBAUDIT_ROBUSTBENCH_DIR", "./models"))


@CATALOGUES.register("robustbench")
class RobustBenchCatalogue(Catalogue):
    """RobustBench's model enumeration (robustbench.model_zoo.model_dicts), DATASET/THREAT/NAME."""

    def names(self, options: dict[str, Any]) -> list[str]:
        return list(MODEL_SOURCES.get("robustbench")().available())

    def expand(self, pattern: str, options: dict[str, Any]) -> list[str]:
        """Catalogue names matching ``pattern`` whose checkpoint is under model_dir (offline)."""
        full = pattern if pattern.count("/") == 2 else f"cifar10/Linf/{pattern}"
        folder = robustbench_model_dir(options)
        return [n for n in super().expand(full, options) if (folder / f"{n}.pt").is_file()]

    def check(self, name: str, options: dict[str, Any]) -> None:
        full = name if name.count("/") == 2 else f"cifar10/Linf/{name.split('/')[-1]}"
        super().check(full, options)


def expand_spec(spec: str, options: dict[str, Any]) -> list[str]:
    """``spec`` itself, or the specs its pattern matches (at least one, else RobauditError)."""
    prefix, _, name = spec.partition(":")
    if not is_pattern(spec):
        return [spec]
    found = [f"{prefix}:{n}" for n in catalogue(prefix).expand(name, options)]
    if not found:
        where = f" with a checkpoint under {robustbench_model_dir(options)}" if prefix == "robustbench" else ""
        raise RobauditError(f"pattern {spec} matches no model{where}")
    return found


def check_spec(spec: str, options: dict[str, Any]) -> None:
    """Check one (expanded) model spec exists, before any model runs."""
    from robaudit.models.base import parse_spec

    prefix, name = parse_spec(spec)
    catalogue(prefix).check(name, options)
