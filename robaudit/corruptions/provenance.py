"""Does a corruption set (or a baseline report) belong to this run's data? Checked before any work.

A set written by ``robaudit corrupt`` carries ``manifest.json`` with the identity of the data it
was made from (spec, split, content hash) and the seed of its random corruptions; a set without
one (the official CIFAR-10-C, ImageNet-C archives) is checked through its labels, which must be
the data's labels in order. A baseline report for relative errors must come from a run on the
same data (content hash, split) with corruptions from the same source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from robaudit.corruptions.ondisk import CorruptionSet, NpySet
from robaudit.data.base import DatasetInfo, ImageSet
from robaudit.errors import RobauditError

MANIFEST = "manifest.json"


def read_manifest(root: Path) -> dict[str, Any] | None:
    """``root/manifest.json`` as a dict, None when there is none; an unreadable one raises."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("dataset", {}), dict):
        raise RobauditError(f"{path} is not a robaudit corruption-set manifest; remake the set with "
                            "`robaudit corrupt`")
    return manifest


def set_identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """What makes two sets the same set: data identity, split, seed, image count and table."""
    data = manifest.get("dataset", {})
    return {"dataset": data.get("spec"), "sha256": data.get("sha256"), "split": data.get("split"),
            "seed": manifest.get("seed"), "n_images": manifest.get("n_images"),
            "parameter_table": manifest.get("parameter_table")}


def check_set(source: CorruptionSet, data: ImageSet, seed: int) -> None:
    """Refuse a corruption set made from other data (or with another seed) than this run's."""
    manifest = read_manifest(source.root)
    where = f"--corruptions-dir {source.root}"
    if manifest is not None and "sha256" in manifest.get("dataset", {}):
        made = manifest["dataset"]
        if made.get("sha256") != data.info.sha256 or made.get("split") != data.info.split:
            raise RobauditError(f"{where} was made from {made.get('spec')} ({made.get('split')}, content "
                                f"{str(made.get('sha256'))[:12]}) but this run's data is {data.info.spec} "
                                f"({data.info.split}, content {data.info.sha256[:12]}); make the set from "
                                "this data with `robaudit corrupt`")
        if manifest.get("seed") != seed:
            raise RobauditError(f"{where} was made with --seed {manifest.get('seed')} but this run uses --seed "
                                f"{seed}; use the same seed or remake the set")
        return
    if isinstance(source, NpySet):
        _check_labels(source, data, where)


def _check_labels(source: NpySet, data: ImageSet, where: str) -> None:
    """A set without manifest: its clean labels must be the data's first labels, in order."""
    labels = np.asarray(source.labels())
    n = len(labels) // 5 if len(labels) % 5 == 0 and len(labels) >= 5 else len(labels)
    if n > len(data) or not np.array_equal(labels[:n], data.labels[:n].numpy()):
        raise RobauditError(f"{where} holds labels that are not those of {data.info.spec} "
                            f"({n} images vs {len(data)}); it was made from other data")


def source_name(source: CorruptionSet | None) -> str:
    """The corruption source as the report's corruptions section records it."""
    return "generated" if source is None else f"{source.layout}:{source.root}"


def check_baseline(path: str | Path, data: DatasetInfo, source: CorruptionSet | None, *, images: int,
                   subset: bool, seed: int) -> None:
    """Refuse a baseline report measured on other data, on other images of it (another count, or
    another seed where a seeded ``subset`` of the data is used) or with corruptions from another
    source. ``images``: how many images this run corrupts."""
    file = Path(path).expanduser()
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
        base_data, section = report["data"], report["probes"]["corruptions"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise RobauditError(f"baseline report {file} is not a robaudit report.json with a corruptions section; "
                            "run `robaudit score --probes corruptions` on the baseline model first") from None
    if base_data.get("sha256") != data.sha256 or base_data.get("split") != data.split:
        raise RobauditError(f"baseline report {file} was measured on {base_data.get('spec')} "
                            f"({base_data.get('split')}) but this run's data is {data.spec} ({data.split}) "
                            f"with other content; use a baseline scored on the same data")
    if section.get("n_images") != images or (subset and report.get("config", {}).get("seed") != seed):
        raise RobauditError(f"baseline report {file} was measured on {section.get('n_images')} images (seed "
                            f"{report.get('config', {}).get('seed')}) but this run uses {images} (seed {seed}); "
                            "errors of other images do not compare: score the baseline with the same --n-images "
                            "and --seed")
    theirs, ours = str(section.get("source")), source_name(source)
    if _normalise(theirs) != _normalise(ours):
        raise RobauditError(f"baseline report {file} used corruptions from {theirs} but this run uses {ours}; "
                            "use a baseline scored with the same corruption source")


def _normalise(source: str) -> str:
    layout, _, root = source.partition(":")
    return f"{layout}:{Path(root).expanduser().resolve()}" if root else layout
