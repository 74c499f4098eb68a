"""Prebuilt corruption sets on disk: readers for both published layouts (the writer and the
downloader are in :mod:`robaudit.corruptions.archive`).

- npy layout (CIFAR-10-C, CIFAR-100-C and sets written by ``robaudit corrupt``):
  ``<corruption>.npy`` uint8 (5·n, H, W, 3), severities 1–5 stacked in blocks of n, and
  ``labels.npy`` with n or 5·n labels.
- folder layout (Tiny-ImageNet-C, ImageNet-C): ``<corruption>/<severity>/<class>/<image>``,
  classes in sorted order (as torchvision's ImageFolder); images are used at their stored size.

Every check runs before any model work: missing or truncated files raise a RobauditError that
names them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from robaudit.errors import RobauditError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".ppm", ".webp")
SEVERITIES = (1, 2, 3, 4, 5)
OFFICIAL_ARCHIVES = {
    "CIFAR-10-C": "https://zenodo.org/record/2535967/files/CIFAR-10-C.tar",
    "CIFAR-100-C": "https://zenodo.org/record/3555552/files/CIFAR-100-C.tar",
    "Tiny-ImageNet-C": "https://zenodo.org/record/2536630/files/Tiny-ImageNet-C.tar",
    "ImageNet-C": "https://zenodo.org/record/2235448 (blur.tar, digital.tar, noise.tar, weather.tar)",
}


class CorruptionSet(ABC):
    """A prebuilt corrupted test set. ``load(name, severity, indices)`` → (x (n, C, H, W) float in
    [0, 1] on the CPU, y (n,) int64) for the images at ``indices`` of that (name, severity)."""

    root: Path
    layout: str

    @abstractmethod
    def available(self) -> list[str]:
        """Corruption names present."""

    @abstractmethod
    def num_images(self, name: str, severity: int) -> int: ...

    @abstractmethod
    def image_size(self) -> tuple[int, int, int]:
        """(C, H, W) of the stored images."""

    @abstractmethod
    def check(self, names: Iterable[str], severities: Iterable[int]) -> None:
        """Raise a RobauditError naming every missing or truncated file."""

    @abstractmethod
    def load(self, name: str, severity: int, indices: Tensor) -> tuple[Tensor, Tensor]: ...


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a .npy file, from its header only."""
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        return shape, dtype, f.tell()


def subset_hint(absent: list[str], available: list[str]) -> str:
    """What to do when a set lacks some corruptions: evaluate the ones it holds."""
    held = [name for name in available if name not in absent]
    if not absent or not held:
        return ""
    return f" (it holds {', '.join(held)}: pass --set 'corruptions.corruptions=[{','.join(held)}]' to use those)"


class NpySet(CorruptionSet):
    """CIFAR-10-C-style ``<corruption>.npy`` + ``labels.npy`` (memory-mapped)."""

    layout = "npy"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._labels: np.ndarray | None = None

    def available(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.npy") if p.stem != "labels")

    def num_images(self, name: str, severity: int) -> int:
        shape, _, _ = _npy_header(self.root / f"{name}.npy")
        return shape[0] // 5

    def image_size(self) -> tuple[int, int, int]:
        name = self.available()[0]
        shape, _, _ = _npy_header(self.root / f"{name}.npy")
        return (shape[3], shape[1], shape[2]) if len(shape) == 4 else (1, shape[1], shape[2])

    def check(self, names: Iterable[str], severities: Iterable[int]) -> None:
        problems: list[str] = []
        absent: list[str] = []
        labels = self.root / "labels.npy"
        n = None
        if not labels.exists():
            problems.append(f"{labels} is missing")
        else:
            shape, dtype, offset = _npy_header(labels)
            if labels.stat().st_size < offset + int(np.prod(shape)) * dtype.itemsize:
                problems.append(f"{labels} is truncated")
            n = shape[0] // 5 if shape[0] % 5 == 0 else shape[0]
        for name in names:
            path = self.root / f"{name}.npy"
            if not path.exists():
                absent.append(name)
                problems.append(f"{path} is missing")
                continue
            try:
                shape, dtype, offset = _npy_header(path)
            except (ValueError, OSError) as err:
                problems.append(f"{path} is not a valid .npy file ({err})")
                continue
            expected = offset + int(np.prod(shape)) * dtype.itemsize
            if path.stat().st_size < expected:
                problems.append(f"{path} is truncated ({path.stat().st_size} of {expected} bytes)")
            elif dtype != np.uint8 or len(shape) not in (3, 4) or shape[0] % 5:
                problems.append(f"{path} holds {dtype} {shape}; expected uint8 (5·n, H, W, 3)")
            elif n is not None and shape[0] != 5 * n:
                problems.append(f"{path} holds {shape[0]} images but labels.npy implies {5 * n}")
        if problems:
            raise RobauditError(f"corruption set {self.root} (npy layout): " + "; ".join(problems)
                                + subset_hint(absent, self.available()))

    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = np.load(self.root / "labels.npy", mmap_mode="r")
        return self._labels

    def load(self, name: str, severity: int, indices: Tensor) -> tuple[Tensor, Tensor]:
        images = np.load(self.root / f"{name}.npy", mmap_mode="r")
        n = images.shape[0] // 5
        rows = (severity - 1) * n + indices.numpy()
        batch = torch.from_numpy(np.ascontiguousarray(images[rows]))
        batch = batch[..., None] if batch.ndim == 3 else batch
        labels = self.labels()
        y = labels[rows] if len(labels) == 5 * n else labels[indices.numpy()]
        return batch.permute(0, 3, 1, 2).float().div_(255.0), torch.from_numpy(np.asarray(y)).long()


class FolderSet(CorruptionSet):
    """ImageNet-C-style ``<corruption>/<severity>/<class>/<image>`` (decoded with PIL)."""

    layout = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[tuple[str, int], tuple[list[Path], list[int]]] = {}

    def available(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "1").is_dir())

    def files(self, name: str, severity: int) -> tuple[list[Path], list[int]]:
        key = (name, severity)
        if key not in self._files:
            base = self.root / name / str(severity)
            classes = sorted(p.name for p in base.iterdir() if p.is_dir())
            files, labels = [], []
            for label, cls in enumerate(classes):
                for f in sorted((base / cls).iterdir()):
                    if f.suffix.lower() in IMAGE_SUFFIXES:
                        files.append(f)
                        labels.append(label)
            self._files[key] = (files, labels)
        return self._files[key]

    def num_images(self, name: str, severity: int) -> int:
        return len(self.files(name, severity)[0])

    def image_size(self) -> tuple[int, int, int]:
        from PIL import Image

        name = self.available()[0]
        with Image.open(self.files(name, 1)[0][0]) as im:
            return (3, im.size[1], im.size[0])

    def check(self, names: Iterable[str], severities: Iterable[int]) -> None:
        problems: list[str] = []
        absent: list[str] = []
        counts = {}
        for name in names:
            for s in severities:
                base = self.root / name / str(s)
                if not base.is_dir():
                    absent.append(name)
                    problems.append(f"{base} is missing")
                    continue
                count = self.num_images(name, s)
                if count == 0:
                    problems.append(f"{base} holds no images")
                else:
                    counts[(name, s)] = count
        if len(set(counts.values())) > 1:
            low = min(counts, key=lambda k: counts[k])
            problems.append(f"{self.root / low[0] / str(low[1])} holds only {counts[low]} images, "
                            f"others up to {max(counts.values())} (incomplete extraction?)")
        if problems:
            raise RobauditError(f"corruption set {self.root} (folder layout): " + "; ".join(problems)
                                + subset_hint(absent, self.available()))

    def check_files(self, name: str, severity: int, indices: Tensor) -> None:
        """Raise naming empty or truncated files (a JPEG must end with FF D9) among ``indices``."""
        files = self.files(name, severity)[0]
        bad = [str(files[i]) for i in indices.tolist() if _truncated(files[i])]
        if bad:
            raise RobauditError(f"truncated image files: {', '.join(bad[:5])}"
                                + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))

    def load(self, name: str, severity: int, indices: Tensor) -> tuple[Tensor, Tensor]:
        from PIL import Image

        files, labels = self.files(name, severity)
        arrays = []
        for i in indices.tolist():  # decoding is per file by nature
            with Image.open(files[i]) as im:
                arrays.append(np.asarray(im.convert("RGB")))
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
        return x, torch.tensor([labels[i] for i in indices.tolist()], dtype=torch.long)


def _truncated(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return True
    if path.suffix.lower() in (".jpeg", ".jpg"):
        with path.open("rb") as f:
            f.seek(max(0, size - 2))
            return f.read(2) != b"\xff\xd9"
    return False


def open_corruption_set(root: str | Path) -> CorruptionSet:
    """Detect the layout of ``root`` and return its reader; unknown layouts raise."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise RobauditError(
            f"--corruptions-dir {path} does not exist; download the set (official archives: "
            + ", ".join(f"{k} {v}" for k, v in OFFICIAL_ARCHIVES.items())
            + ") or build one with `robaudit corrupt DATASET --out DIR`"
        )
    if (path / "labels.npy").exists() or any(path.glob("*.npy")):
        return NpySet(path)
    if any(p.is_dir() and (p / "1").is_dir() for p in path.iterdir()):
        return FolderSet(path)
    raise RobauditError(
        f"{path} is neither a CIFAR-10-C-style folder (<corruption>.npy, labels.npy) nor an "
        "ImageNet-C-style one (<corruption>/<severity>/<class>/<image>)"
    )
