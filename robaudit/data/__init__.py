"""Dataset loading: ``load_dataset("cifar10", data_dir=...)`` → an :class:`ImageSet`."""

from __future__ import annotations

from pathlib import Path

from robaudit.data.base import DatasetInfo, ImageSet, ModelInput, TensorImageSet
from robaudit.data.sources import DATASETS, DataOptions
from robaudit.errors import RobauditError

DEFAULT_DATASET = "embedded"


def load_dataset(
    spec: str = DEFAULT_DATASET,
    *,
    split: str = "test",
    data_dir: str | Path | None = None,
    download: bool = False,
    model_info: ModelInput | None = None,
) -> ImageSet:
    """Load ``NAME`` or ``NAME:ARG`` (folder:PATH, npz:PATH) from the dataset registry."""
    name, _, arg = spec.partition(":")
    source = DATASETS.get(name)()
    options = DataOptions(split=split, data_dir=Path(data_dir) if data_dir else None,
                          download=download, model_info=model_info)
    dataset = source.load(arg, options)
    if len(dataset) == 0:
        raise RobauditError(f"dataset {spec} is empty")
    return dataset


def check_compatible(model: ModelInput, data: DatasetInfo) -> None:
    """Raise before any work starts if the model's label space or input size does not fit."""
    if model.num_classes != data.num_classes:
        raise RobauditError(
            f"{model.spec} predicts {model.num_classes} classes but {data.spec} has "
            f"{data.num_classes}; use a dataset with the model's label space"
        )
    if tuple(model.input_size) != tuple(data.image_size):
        raise RobauditError(
            f"{model.spec} takes inputs of size {tuple(model.input_size)} (C, H, W) but "
            f"{data.spec} images are {tuple(data.image_size)}; use a matching dataset"
        )


__all__ = ["DATASETS", "DEFAULT_DATASET", "DatasetInfo", "ImageSet", "TensorImageSet",
           "check_compatible", "load_dataset"]
