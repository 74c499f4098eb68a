"""Image files on disk: ``folder:PATH`` (one sub-folder per class) and the ImageNet validation folder.

Every file is read once when the set is opened: its bytes feed the dataset's content hash (so a
file rewritten at the same size changes the identity and the cache misses) and its header is
parsed, so a non-image file with an image extension, or images of another size than the model
takes, are refused before any model work rather than in the middle of a probe.
"""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from robaudit.data.base import DatasetInfo, ImageSet, resize_images
from robaudit.data.sources import DATASETS, DataOptions, DatasetSource
from robaudit.errors import RobauditError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff"}
PIL_SUFFIXES = {".bmp", ".ppm", ".tif", ".tiff"}  # decoded with Pillow: torchvision.io cannot
HASH_THREADS = 8  # hashing releases the GIL; reading many small files is latency bound


@dataclass(frozen=True)
class FileFacts:
    """What opening a file learnt: its content digest and its size (height, width)."""

    digest: str
    size: tuple[int, int]
    channels: int


def inspect_file(path: Path) -> FileFacts:
    """Read ``path``: SHA-256 of its bytes and its image size from the header (Pillow, no decode)."""
    from PIL import Image, UnidentifiedImageError

    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            channels = 1 if image.mode in ("1", "L", "I", "I;16", "F") else 3
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise RobauditError(f"{path} is not a readable image ({type(exc).__name__}); remove it or fix it") from None
    return FileFacts(hashlib.sha256(data).hexdigest(), (height, width), channels)


def inspect_files(files: list[Path]) -> list[FileFacts]:
    """:func:`inspect_file` for every file, in order (threads: reading is I/O bound)."""
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        return list(pool.map(inspect_file, files))


def content_sha256(root: Path, files: list[Path], facts: list[FileFacts]) -> str:
    """The set's identity: every file's path below ``root`` (its class) and content digest."""
    digest = hashlib.sha256()
    for path, fact in zip(files, facts, strict=True):
        digest.update(f"{path.relative_to(root).as_posix()}:{fact.digest}\n".encode())
    return digest.hexdigest()


class FileImageSet(ImageSet):
    """Images on disk, decoded on ``load`` to ``size`` (C, H, W): resized and centre-cropped
    (shorter side to H / crop_pct) only when ``resize``; otherwise every file is that size."""

    def __init__(self, files: list[Path], labels: list[int], size: tuple[int, int, int], crop_pct: float,
                 info: DatasetInfo, resize: bool) -> None:
        self.files, self._labels = files, torch.tensor(labels, dtype=torch.int64)
        self.size, self.crop_pct, self.resize = size, crop_pct, resize
        info.num_images, info.image_size = len(files), size
        self.info = info

    @property
    def labels(self) -> Tensor:
        return self._labels

    def load(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        channels, height, width = self.size
        out = torch.empty(len(indices), channels, height, width)
        for row, index in enumerate(indices.tolist()):  # decoding is per file by nature
            image = decode(self.files[index], channels)
            if tuple(image.shape[1:]) != (height, width):
                if not self.resize:
                    raise RobauditError(f"{self.files[index]} is {image.shape[2]}×{image.shape[1]} px, not "
                                        f"{width}×{height}; pass --resize (`resize: true` in a zoo file) to resize "
                                        "images to the model")
                image = resize_images(image[None], (height, width), self.crop_pct)[0]
            out[row] = image.float().div_(255.0)
        return out, self._labels[indices]


def decode(path: Path, channels: int) -> Tensor:
    """One image file → (channels, H, W) uint8 (grey or RGB as asked)."""
    if path.suffix.lower() in PIL_SUFFIXES:
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
        return torch.from_numpy(array.reshape(*array.shape[:2], -1).copy()).permute(2, 0, 1)
    from torchvision.io import ImageReadMode, decode_image

    try:
        return decode_image(str(path), mode=ImageReadMode.GRAY if channels == 1 else ImageReadMode.RGB)
    except RuntimeError as exc:
        raise RobauditError(f"cannot decode {path}: {str(exc)[:120]}") from None


def scan_class_folders(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of an ImageFolder-style tree: root/<class>/<image>; names
    starting with '.' are skipped."""
    if not root.is_dir():
        raise RobauditError(f"image folder {root} does not exist")
    # hidden folders and files (.ipynb_checkpoints, .git, ...) are tool state, not classes or images
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
                       and not any(part.startswith(".") for part in f.relative_to(root).parts))
        files += found
        labels += [label] * len(found)
    if not files:
        raise RobauditError(f"no images found in {root}/<class>/*; expected one folder per class")
    return files, labels, classes


def open_image_files(spec: str, name: str, split: str, root: Path, options: DataOptions,
                     resize_always: bool, default_size: tuple[int, int, int] | None) -> FileImageSet:
    """The class-per-folder set under ``root``, its content hashed and its sizes checked.

    Target size: the model's input size when a model is given, else ``default_size``, else the
    images' own (which must then agree). Images of another size are resized only when
    ``resize_always`` (a protocol such as ImageNet's) or ``options.resize``; otherwise the set
    keeps their own size and the model/data check refuses the mismatch."""
    files, labels, classes = scan_class_folders(root)
    facts = inspect_files(files)
    sizes = {fact.size for fact in facts}
    model = options.model_info if options.model_info and all(options.model_info.input_size) else None
    resize = resize_always or options.resize
    channels = model.input_size[0] if model else facts[0].channels
    if model is not None and (resize or sizes == {tuple(model.input_size[1:])}):
        size = tuple(model.input_size)
    elif default_size is not None and resize:
        size = default_size
    elif len(sizes) == 1 or resize:
        size = (channels, *facts[0].size)
    else:
        odd = next(f for f, fact in zip(files, facts, strict=True) if fact.size != facts[0].size)
        raise RobauditError(f"images in {root} differ in size ({files[0].name} and {odd.name}); "
                            "make them one size, or pass --resize (`resize: true` in a zoo file) to resize them to the "
                            "model's")
    info = DatasetInfo(spec=spec, name=name, split=split, num_images=0, num_classes=len(classes),
                       image_size=size, class_names=classes, source=str(root),  # type: ignore[arg-type]
                       sha256=content_sha256(root, files, facts))
    crop_pct = model.crop_pct if model else (0.875 if resize_always else 1.0)
    if resize and sizes != {tuple(size[1:])}:
        info.extra["resized"] = {"to": list(size), "crop_pct": crop_pct}
    return FileImageSet(files, labels, size, crop_pct, info, resize)  # type: ignore[arg-type]


@DATASETS.register("folder")
class FolderDataset(DatasetSource):
    """``folder:PATH``: one sub-folder per class; images of the model's size, or resized to it
    with ``--resize``."""

    name, description = "folder", "folder:PATH with one sub-folder per class"
    split_free = True

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        root = Path(arg).expanduser()
        return open_image_files(f"folder:{arg}", root.name, "all", root, options, False, None)


@DATASETS.register("imagenet")
class ImageNetDataset(DatasetSource):
    """``imagenet``: the validation set in class-per-folder layout (``<data-dir>/val/<wnid>/``),
    resized and centre-cropped as the model's config says (e.g. 256 → 224 for crop_pct 0.875):
    ImageNet's evaluation protocol, so no ``--resize`` is needed."""

    name, description = "imagenet", "ImageNet validation folder (--data-dir/val/<wnid>/*.JPEG)"

    def load(self, arg: str, options: DataOptions) -> ImageSet:
        root = options.data_dir or Path("./data")
        folder = root / "val" if (root / "val").is_dir() else root
        return open_image_files("imagenet", "imagenet", "val", folder, options, True, (3, 224, 224))
