"""Making corruption sets on disk: the official CIFAR-C download and the npy writer of `robaudit corrupt`.

The npy layout is the one :class:`robaudit.corruptions.ondisk.NpySet` reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import numpy as np

from robaudit.atomic import atomic_open, atomic_write_text, atomic_write_with
from robaudit.corruptions import CORRUPTION_NAMES
from robaudit.corruptions.ondisk import OFFICIAL_ARCHIVES, SEVERITIES
from robaudit.corruptions.provenance import MANIFEST, read_manifest, set_identity
from robaudit.errors import RobauditError, one_line


def fetch_cifar_c(name: str, data_dir: str | Path) -> Path:
    """Download and extract CIFAR-10-C or CIFAR-100-C from Zenodo into ``data_dir/<name>``
    with RobustBench's downloader (needs the network; about 2.9 GB each). Returns the folder.
    ImageNet-C and Tiny-ImageNet-C must be fetched by hand (OFFICIAL_ARCHIVES)."""
    records = {"CIFAR-10-C": "2535967", "CIFAR-100-C": "3555552"}
    if name not in records:
        raise RobauditError(f"can fetch {', '.join(records)}; download {name} from {OFFICIAL_ARCHIVES.get(name)}")
    root = Path(data_dir).expanduser()
    target = root / name
    if not (target / "labels.npy").exists():
        from robaudit.robustbench_import import import_robustbench

        import_robustbench()
        from robustbench.zenodo_download import zenodo_download

        root.mkdir(parents=True, exist_ok=True)
        try:
            zenodo_download(records[name], {f"{name}.tar"}, save_dir=root)
        except Exception as exc:  # requests/urllib errors when offline
            reason = one_line(exc)[:160]
            raise RobauditError(
                f"could not download {name} ({reason}); download it by hand and pass --corruptions-dir DIR"
            ) from None
    return target


def write_npy_set(
    out: Path,
    names: list[str],
    labels: np.ndarray,
    render: Callable[[str, int, int, int], np.ndarray],
    chunk: int,
    manifest: dict[str, object],
    track: Callable[[Iterable[int], str, int], Iterable[int]] = lambda it, d, t: it,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``<name>.npy`` (5·n, H, W, C) uint8 per corruption, ``labels.npy`` (5·n,) and
    ``manifest.json`` into ``out``; labels: (n,) of the clean images. ``render(name, severity,
    start, stop)`` returns the uint8 NHWC corrupted images of rows start:stop.

    Every file goes through the atomic writer (a fresh O_EXCL/O_NOFOLLOW temporary file renamed
    into place when complete), so a rerun skips finished corruptions and a planted symlink is
    never written through. A folder holding another set (another manifest identity, or .npy files
    without a manifest) is refused unless ``overwrite``, which first removes that set."""
    out.mkdir(parents=True, exist_ok=True)
    earlier = prepare_destination(out, manifest, overwrite)
    n = len(labels)
    dtype = np.uint8 if int(labels.max()) < 256 else np.int64
    tiled = np.tile(labels, 5).astype(dtype)
    atomic_write_with(out / "labels.npy", lambda handle: np.save(handle, tiled))
    merged = dict(manifest, corruptions=list(dict.fromkeys([*earlier, *names])))
    atomic_write_text(out / MANIFEST, json.dumps(merged, indent=2, sort_keys=True))
    written = []
    for name in names:
        target = out / f"{name}.npy"
        if target.is_file() and not target.is_symlink():
            continue
        with atomic_open(target, "wb") as handle:
            _stream_corruption(handle, name, n, render, chunk, track)
        written.append(target)
    return written


def _stream_corruption(handle: IO[bytes], name: str, n: int, render: Callable[[str, int, int, int], np.ndarray],
                       chunk: int, track: Callable[[Iterable[int], str, int], Iterable[int]]) -> None:
    """Write one corruption's .npy to ``handle`` in row order (severity-major), chunk by chunk."""
    shape: tuple[int, ...] | None = None
    for severity in SEVERITIES:
        starts = range(0, n, chunk)
        for start in track(starts, f"{name} severity {severity}", len(starts)):
            images = np.ascontiguousarray(render(name, severity, start, min(n, start + chunk)), dtype=np.uint8)
            if shape is None:
                shape = images.shape[1:]
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                          "shape": (5 * n, *shape)}
                np.lib.format.write_array_header_2_0(handle, header)
            elif images.shape[1:] != shape:
                raise ValueError(f"{name}: rendered images changed shape {shape} → {images.shape[1:]}")
            handle.write(images.tobytes())
    if shape is None:
        raise RobauditError("nothing to write: the dataset is empty")


def prepare_destination(out: Path, manifest: dict[str, object], overwrite: bool) -> list[str]:
    """Check that ``out`` holds no other set; returns the corruptions of the same set already there.

    With ``overwrite`` a different set (or an unlabelled one) is removed first. Leftover temporary
    files of a killed run are removed (the caller holds the folder's lock)."""
    for stale in out.glob(".*.npy.*.tmp"):
        stale.unlink(missing_ok=True)
    existing = read_manifest(out) if (out / MANIFEST).is_file() else None
    npy = [p for p in out.glob("*.npy") if p.stem in CORRUPTION_NAMES or p.stem == "labels"]
    if existing is not None and set_identity(existing) == set_identity(manifest) and not overwrite:
        return [str(c) for c in existing.get("corruptions", [])]
    if (existing is not None or npy) and not overwrite:
        made = (set_identity(existing) if existing else {"dataset": "an unknown dataset (no manifest.json)"})
        raise RobauditError(f"{out} already holds a corruption set made from {made['dataset']} with other "
                            "settings; choose another --out or pass --overwrite to replace it")
    for path in npy:
        path.unlink()
    (out / MANIFEST).unlink(missing_ok=True)
    return []
