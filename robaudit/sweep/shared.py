"""Work models share within one process: the loaded dataset and the generated corruption images.

Both are pure functions of their keys, so sharing them cannot change a metric:
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
MEMO = CorruptionMemo()


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
