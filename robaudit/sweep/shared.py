"""Work models share within one process: the loaded dataset and the generated corruption images.

Both are pure functions of their keys, so sharing them cannot change a metric (datasets are
shared within one sweep, see :func:`enter_sweep`):
- a dataset is a function of (spec, split, data_dir, download) and, for resizable sources, of
  the model's input size, crop and interpolation;
- a corrupted chunk is a function of the input images, the corruption, its severity and the
  state of the generator that drives it (see :mod:`robaudit.corruptions.memo`).
"""

from __future__ import annotations

from typing import Any

from robaudit.corruptions.memo import CorruptionMemo
from robaudit.data import ImageSet, load_dataset
from robaudit.models.wrapper import ModelInfo

_DATASETS: dict[tuple[Any, ...], ImageSet] = {}
_SWEEP = [""]  # the sweep whose datasets _DATASETS holds
MEMO = CorruptionMemo()


def enter_sweep(token: str) -> None:
    """Share datasets within one sweep only: a model of another sweep (a later run in this
    process, or on a reused Ray worker) loads them afresh, as their files may have changed.
    Corruption sets stay shared: they are keyed by the images' content."""
    if token != _SWEEP[0]:
        _DATASETS.clear()
        _SWEEP[0] = token


def shared_dataset(spec: str, split: str = "test", data_dir: Any = None, download: bool = False,
                   model_info: ModelInfo | None = None, resize: bool = False) -> ImageSet:
    """:func:`load_dataset`, loaded once per process for each distinct set of arguments."""
    key = (spec, split, str(data_dir), download, resize, None if model_info is None else
           (tuple(model_info.input_size), model_info.crop_pct, model_info.interpolation))
    if key not in _DATASETS:
        _DATASETS[key] = load_dataset(spec, split=split, data_dir=data_dir, download=download,
                                      model_info=model_info, resize=resize)
    return _DATASETS[key]


def forget_shared() -> None:
    """Drop the shared datasets and corruption sets (as a fresh process starts)."""
    _DATASETS.clear()
    MEMO.clear()
