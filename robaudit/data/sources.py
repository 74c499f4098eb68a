"""Dataset sources: cifar10, cifar100, imagenet, folder:PATH, npz:PATH and the embedded default.

CIFAR is read from the official python-pickle batches with a restricted unpickler (only numpy
arrays, plain containers and bytes may be built), so no arbitrary code runs on load; when the files are
absent and downloads are allowed, torchvision fetches and MD5-checks the official archive.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from robaudit.data.base import DatasetInfo, ImageSet, ModelInput, TensorImageSet, array_sha256, checked_labels
from robaudit.data.embedded import load_photo_patches
from robaudit.errors import RobauditError, one_line
from robaudit.registry import Registry


@dataclass
class DataOptions:
    """Where to look (``data_dir``), which split, whether downloads are allowed, the model
    (resizable sources take their resize/crop from it) and whether images not of the model's
    size may be resized to it (``resize``; otherwise they are refused)."""

    split: str = "test"
    data_dir: Path | None = None
    download: bool = False
    model_info: ModelInput | None = None
    resize: bool = False


# a source without splits serves its whole set for the splits robaudit asks for by itself: test
# (the default of score and corrupt) and train (train-reference trains on it); any other is refused
SPLIT_FREE_ACCEPTS = ("test", "train")


class DatasetSource(ABC):
    """One origin of datasets; ``split_free``: the source has no splits (see SPLIT_FREE_ACCEPTS)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    split_free: ClassVar[bool] = False

    @abstractmethod
    def load(self, arg: str, options: DataOptions) -> ImageSet: ...


DATASETS: Registry[type[DatasetSource]] = Registry("dataset")


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a callable outside the CIFAR allow-list (``module.name`` in args[0])."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it: bytes rebuilt from a latin-1 str, nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedGlobal(f"_codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: only numpy array reconstruction (``_reconstruct`` up to protocol 4,
    ``_frombuffer`` for protocol 5, under numpy 1's ``numpy.core`` and numpy 2's ``numpy._core``)
    and the latin-1 bytes rebuild of protocols 0-2 are allowed; every other global is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) not in self.ALLOWED:
            raise RefusedGlobal(f"{module}.{name}")
        return super().find_class(module, name)


def read_cifar_pickle(path: Path) -> dict[str, Any]:
    """One official CIFAR python batch → dict with str keys (bytes keys decoded)."""
    if not path.is_file():
        raise RobauditError(f"missing CIFAR file {path}; pass --data-dir with the official python batches")
    try:
        with open(path, "rb") as handle:
            raw = _SafeUnpickler(io.BufferedReader(handle), encoding="bytes").load()
    except RefusedGlobal as exc:
        raise RobauditError(
            f"{path} asks the unpickler to call {exc}, which a CIFAR python batch never needs, so robaudit refuses "
            "it; use the official batches (--download fetches them) or save a dict of numpy arrays, lists and bytes"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise RobauditError(f"{path} is not a valid CIFAR python batch ({exc})") from None
    if not isinstance(raw, dict):
        raise RobauditError(f"{path} is not a valid CIFAR python batch (a {type(raw).__name__}, not a dict)")
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
        try:
            data = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
            labels = np.concatenate([np.asarray(b[self.label_key]) for b in batches])
            raw_names = read_cifar_pickle(folder / self.meta_file)[self.names_key]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw_names]
        except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise RobauditError(f"{folder} does not hold official CIFAR python batches ({one_line(exc)})") from None
        if data.ndim != 2 or data.shape[1] != 3072:
            raise RobauditError(f"{folder}: CIFAR data must be N×3072 uint8, found {data.shape}")
        labels = checked_labels(labels, len(data), len(names), f"{folder} ({self.name})")
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
    split_free = True

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        path = Path(arg).expanduser()
        if not path.is_file():
            raise RobauditError(f"npz file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                x, y = data["x"], data["y"]
                names = [str(n) for n in data["class_names"]] if "class_names" in data.files else None
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise RobauditError(f"{path} must be an npz file holding arrays 'x' and 'y' ({one_line(exc)})") from None
        if x.dtype != np.uint8 or x.ndim != 4:
            raise RobauditError(f"{path}: x must be uint8 with 4 dims, found {x.dtype} {x.shape}")
        if len(x) == 0:
            raise RobauditError(f"{path} holds no images (x has shape {x.shape})")
        if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
            x = x.transpose(0, 3, 1, 2)
        if np.ndim(y) == 1 and len(y) != len(x):
            raise RobauditError(f"{path}: {len(x)} images but {len(y)} labels")
        labels = checked_labels(y, len(x), len(names) if names else None, str(path))
        info = DatasetInfo(
            spec=f"npz:{arg}", name=path.stem, split="all", num_images=0,
            num_classes=len(names) if names else int(labels.max()) + 1,
            image_size=tuple(x.shape[1:]), class_names=names, source=str(path),
            sha256=array_sha256(x, labels),
        )
        return TensorImageSet(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(labels), info)


@DATASETS.register("embedded")
class EmbeddedDataset(DatasetSource):
    name, description = "embedded", "32x32 tiles of scikit-image's bundled photographs (10 classes)"

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        if options.split not in ("train", "test"):
            raise RobauditError(f"embedded has splits train and test, not {options.split!r}")
        return load_photo_patches(options.split)
