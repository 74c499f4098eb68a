"""Dataset sources: cifar10, cifar100, imagenet, folder:PATH, npz:PATH and the embedded default.

CIFAR is read from the official python-pickle batches with a restricted unpickler (only numpy
arrays and builtins may be constructed), so no arbitrary code runs on load; when the files are
absent and downloads are allowed, torchvision fetches and MD5-checks the official archive.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from robaudit.data.base import DatasetInfo, ImageSet, ModelInput, TensorImageSet, array_sha256
from robaudit.data.embedded import load_photo_patches
from robaudit.errors import RobauditError
from robaudit.registry import Registry

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff"}


@dataclass
class DataOptions:
    """Where to look (``data_dir``), which split, whether downloads are allowed, and the model
    (resizable sources take their resize/crop from it)."""

    split: str = "test"
    data_dir: Path | None = None
    download: bool = False
    model_info: ModelInput | None = None


class DatasetSource(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def load(self, arg: str, options: DataOptions) -> ImageSet: ...


DATASETS: Registry[type[DatasetSource]] = Registry("dataset")


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: only numpy array reconstruction is allowed."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_cifar_pickle(path: Path) -> dict[str, Any]:
    """One official CIFAR python batch → dict with str keys (bytes keys decoded)."""
    if not path.is_file():
        raise RobauditError(f"missing CIFAR file {path}; pass --data-dir with the official python batches")
    try:
        with open(path, "rb") as handle:
            raw = _SafeUnpickler(io.BufferedReader(handle), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise RobauditError(f"{path} is not a valid CIFAR python batch ({exc})") from None
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}


class _Cifar(DatasetSource):
    folder: ClassVar[str]
    splits: ClassVar[dict[str, list[str]]]
    meta_file: ClassVar[str]
    label_key: ClassVar[str]
    names_key: ClassVar[str]
    torchvision_class: ClassVar[str]

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        root = options.data_dir or Path("./data")
        folder = root / self.folder
        if not folder.is_dir():
            self._download(root, options)
        if options.split not in self.splits:
            raise RobauditError(f"{self.name} has splits {', '.join(self.splits)}, not {options.split!r}")
        batches = [read_cifar_pickle(folder / f) for f in self.splits[options.split]]
        data = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
        labels = np.concatenate([np.asarray(b[self.label_key], dtype=np.int64) for b in batches])
        if data.ndim != 2 or data.shape[1] != 3072:
            raise RobauditError(f"{folder}: CIFAR data must be N×3072 uint8, found {data.shape}")
        raw_names = read_cifar_pickle(folder / self.meta_file)[self.names_key]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw_names]
        info = DatasetInfo(
            spec=self.name, name=self.name, split=options.split, num_images=0,
            num_classes=len(names), image_size=(3, 32, 32), class_names=names, source=str(folder),
        )
        images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
        return TensorImageSet(images, torch.from_numpy(labels), info)

    def _download(self, root: Path, options: DataOptions) -> None:
        if not options.download:
            raise RobauditError(
                f"{self.name} not found under {root}/{self.folder}; pass --data-dir to the folder "
                f"holding {self.folder}/, or --download to fetch the official archive"
            )
        import torchvision.datasets

        try:
            getattr(torchvision.datasets, self.torchvision_class)(str(root), train=False, download=True)
        except OSError as exc:
            raise RobauditError(
                f"could not download {self.name} ({exc}); pass --data-dir with the official files"
            ) from None


@DATASETS.register("cifar10")
class Cifar10(_Cifar):
    name, description = "cifar10", "CIFAR-10 (official python batches)"
    folder, meta_file, label_key, names_key = "cifar-10-batches-py", "batches.meta", "labels", "label_names"
    splits = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    torchvision_class = "CIFAR10"


@DATASETS.register("cifar100")
class Cifar100(_Cifar):
    name, description = "cifar100", "CIFAR-100 fine labels (official python batches)"
    folder, meta_file, label_key, names_key = "cifar-100-python", "meta", "fine_labels", "fine_label_names"
    splits = {"train": ["train"], "test": ["test"]}
    torchvision_class = "CIFAR100"


@DATASETS.register("npz")
class NpzDataset(DatasetSource):
    """``npz:PATH`` with ``x`` uint8 (N, H, W, C) or (N, C, H, W), C ∈ {1, 3}, and ``y`` (N,);
    optional ``class_names``."""

    name, description = "npz", "npz:PATH with x (uint8, NHWC or NCHW) and y"

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        path = Path(arg).expanduser()
        if not path.is_file():
            raise RobauditError(f"npz file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                x, y = data["x"], data["y"]
                names = [str(n) for n in data["class_names"]] if "class_names" in data.files else None
        except (KeyError, ValueError, OSError) as exc:
            raise RobauditError(f"{path} must hold arrays 'x' and 'y' ({exc})") from None
        if x.dtype != np.uint8 or x.ndim != 4:
            raise RobauditError(f"{path}: x must be uint8 with 4 dims, found {x.dtype} {x.shape}")
        if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.transpose(0, 3, 1, 2)
        if len(y) != len(x):
            raise RobauditError(f"{path}: {len(x)} images but {len(y)} labels")
        num_classes = len(names) if names else int(y.max()) + 1
        info = DatasetInfo(
            spec=f"npz:{arg}", name=path.stem, split="all", num_images=0, num_classes=num_classes,
            image_size=tuple(x.shape[1:]), class_names=names, source=str(path),
            sha256=array_sha256(x, y),
        )
        return TensorImageSet(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)), info)


@DATASETS.register("embedded")
class EmbeddedDataset(DatasetSource):
    name, description = "embedded", "32x32 tiles of scikit-image's bundled photographs (10 classes)"

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        if options.split not in ("train", "test"):
            raise RobauditError(f"embedded has splits train and test, not {options.split!r}")
        return load_photo_patches(options.split)


class FileImageSet(ImageSet):
    """Images on disk in class-per-folder layout, decoded and resized/cropped on ``load``."""

    def __init__(self, files: list[Path], labels: list[int], size: tuple[int, int, int], crop_pct: float,
                 info: DatasetInfo) -> None:
        self.files, self._labels = files, torch.tensor(labels, dtype=torch.int64)
        self.size, self.crop_pct = size, crop_pct
        digest = hashlib.sha256()
        for f in files:
            digest.update(f"{f.parent.name}/{f.name}:{f.stat().st_size}".encode())
        info.sha256, info.num_images, info.image_size = digest.hexdigest(), len(files), size
        self.info = info

    @property
    def labels(self) -> Tensor:
        return self._labels

    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        # Decoding is per file by nature; resizing is done per image by torchvision.
        import torchvision.transforms.functional as tf
        from torchvision.io import ImageReadMode, decode_image

        channels, height, width = self.size
        mode = ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB
        out = torch.empty(len(indices), channels, height, width)
        for row, index in enumerate(indices.tolist()):
            image = decode_image(str(self.files[index]), mode=mode)
            if tuple(image.shape[1:]) != (height, width):
                image = tf.resize(image, [int(height / self.crop_pct)], antialias=True)
                image = tf.center_crop(image, [height, width])
            out[row] = image.float().div_(255.0)
        return out, self._labels[indices]


def scan_class_folders(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of an ImageFolder-style tree: root/<class>/<image>."""
    if not root.is_dir():
        raise RobauditError(f"image folder {root} does not exist")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [label] * len(found)
    if not files:
        raise RobauditError(f"no images found in {root}/<class>/*; expected one folder per class")
    return files, labels, classes


def _first_image_size(path: Path) -> tuple[int, int, int]:
    from torchvision.io import decode_image

    image = decode_image(str(path))
    return (3 if image.shape[0] >= 3 else 1, int(image.shape[1]), int(image.shape[2]))


@DATASETS.register("folder")
class FolderDataset(DatasetSource):
    """``folder:PATH``: one sub-folder per class; resized/cropped to the model's input size."""

    name, description = "folder", "folder:PATH with one sub-folder per class"

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        root = Path(arg).expanduser()
        files, labels, classes = scan_class_folders(root)
        model = options.model_info
        size = model.input_size if model else _first_image_size(files[0])
        info = DatasetInfo(
            spec=f"folder:{arg}", name=root.name, split="all", num_images=0,
            num_classes=len(classes), image_size=size, class_names=classes, source=str(root),
        )
        return FileImageSet(files, labels, size, model.crop_pct if model else 1.0, info)


@DATASETS.register("imagenet")
class ImageNetDataset(DatasetSource):
    """``imagenet``: the validation set in class-per-folder layout (``<data-dir>/val/<wnid>/``),
    resized and centre-cropped as the model's config says (e.g. 256 → 224 for crop_pct 0.875)."""

    name, description = "imagenet", "ImageNet validation folder (--data-dir/val/<wnid>/*.JPEG)"

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        root = options.data_dir or Path("./data")
        folder = root / "val" if (root / "val").is_dir() else root
        files, labels, classes = scan_class_folders(folder)
        model = options.model_info
        size = model.input_size if model else (3, 224, 224)
        info = DatasetInfo(
            spec="imagenet", name="imagenet", split="val", num_images=0, num_classes=len(classes),
            image_size=size, class_names=classes, source=str(folder),
        )
        return FileImageSet(files, labels, size, model.crop_pct if model else 0.875, info)
