"""Making corruption sets on disk: the official CIFAR-C download and the npy writer of `robaudit corrupt`.

The npy layout is the one :class:`robaudit.corruptions.ondisk.NpySet` reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from robaudit.corruptions.ondisk import OFFICIAL_ARCHIVES, SEVERITIES
from robaudit.errors import RobauditError


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
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
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
) -> list[Path]:
    """Write ``<name>.npy`` (5·n, H, W, C) uint8 per corruption, ``labels.npy`` (5·n,) and
    ``manifest.json`` into ``out``; labels: (n,) of the clean images. ``render(name, severity,
    start, stop)`` returns the uint8 NHWC corrupted images of rows start:stop. Each file is
    written as ``.partial`` and renamed when complete, so a rerun skips finished corruptions."""
    out.mkdir(parents=True, exist_ok=True)
    n = len(labels)
    dtype = np.uint8 if int(labels.max()) < 256 else np.int64
    np.save(out / "labels.npy", np.tile(labels, 5).astype(dtype))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    written = []
    for name in names:
        target = out / f"{name}.npy"
        if target.exists():
            continue
        partial = out / f"{name}.npy.partial"
        array = None
        for severity in SEVERITIES:
            starts = range(0, n, chunk)
            for start in track(starts, f"{name} severity {severity}", len(starts)):
                images = render(name, severity, start, min(n, start + chunk))
                if array is None:
                    array = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8,
                                                      shape=(5 * n, *images.shape[1:]))
                row = (severity - 1) * n + start
                array[row : row + len(images)] = images
        if array is None:
            raise RobauditError("nothing to write: the dataset is empty")
        array.flush()
        del array
        partial.replace(target)
        written.append(target)
    return written
