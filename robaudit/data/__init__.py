"""Dataset loading: ``load_dataset("cifar10", data_dir=...)`` → an :class:`ImageSet`."""

from __future__ import annotations

from pathlib import Path

from robaudit.data import files as _files  # noqa: F401 - registers folder and imagenet
from robaudit.data.base import DatasetInfo, ImageSet, ModelInput, ResizedImageSet, TensorImageSet
from robaudit.data.sources import DATASETS, SPLIT_FREE_ACCEPTS, DataOptions
from robaudit.errors import RobauditError

DEFAULT_DATASET = "embedded"


def load_dataset(
    spec: str = DEFAULT_DATASET,
    *,
    split: str = "test",
    data_dir: str | Path | None = None,
    download: bool = False,
    model_info: ModelInput | None = None,
    resize: bool = False,
) -> ImageSet:
    """Load ``NAME`` or ``NAME:ARG`` (folder:PATH, npz:PATH) from the dataset registry.

    With ``resize`` and a model, images of another height/width than the model's input are
    resized and centre-cropped to it (recorded in ``info.extra["resized"]``); without, a
    mismatch is left for :func:`check_compatible` to refuse."""
    name, _, arg = spec.partition(":")
    source = DATASETS.get(name)()
    if source.split_free and split not in SPLIT_FREE_ACCEPTS:
        raise RobauditError(f"{name}: datasets have no splits (the whole set is used, recorded as split 'all'), "
                            f"so --split {split} cannot apply; drop --split, or give each split its own file or folder")
    options = DataOptions(split=split, data_dir=Path(data_dir) if data_dir else None,
                          download=download, model_info=model_info, resize=resize)
    dataset = source.load(arg, options)
    if len(dataset) == 0:
        raise RobauditError(f"dataset {spec} is empty")
    want = tuple(model_info.input_size[1:]) if model_info is not None and all(model_info.input_size) else None
    if resize and want is not None and tuple(dataset.info.image_size[1:]) != want:
        dataset = ResizedImageSet(dataset, want, model_info.crop_pct)  # type: ignore[union-attr, arg-type]
    return dataset


def _named(class_names: list[str] | None, shown: int = 12) -> str:
    """' (a, b, …)': the first ``shown`` class names, so a stray class is visible in the message."""
    if not class_names:
        return ""
    more = f", … {len(class_names) - shown} more" if len(class_names) > shown else ""
    return f" ({', '.join(class_names[:shown])}{more})"


def check_compatible(model: ModelInput, data: DatasetInfo) -> None:
    """Raise before any work starts if the model's label space or input size does not fit."""
    if model.num_classes != data.num_classes:
        raise RobauditError(
            f"{model.spec} predicts {model.num_classes} classes but {data.spec} has "
            f"{data.num_classes}{_named(data.class_names)}; use a dataset with the model's label space"
        )
    if tuple(model.input_size) != tuple(data.image_size):
        hint = ("use a matching dataset" if model.input_size[0] != data.image_size[0]
                else "use a matching dataset, or pass --resize (`resize: true` in a zoo file) to resize the images "
                     "(recorded in the report)")
        raise RobauditError(
            f"{model.spec} takes inputs of size {tuple(model.input_size)} (C, H, W) but "
            f"{data.spec} images are {tuple(data.image_size)}; {hint}"
        )


__all__ = ["DATASETS", "DEFAULT_DATASET", "DatasetInfo", "ImageSet", "TensorImageSet",
           "check_compatible", "load_dataset"]
