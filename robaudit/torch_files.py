"""Reading torch files safely: ``torch.load(weights_only=True)`` with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from robaudit.errors import RobauditError, describe_exception


def load_weights_only(path: Path, error: str, mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: only tensors and plain containers are
    unpickled. A file it cannot read (truncated, foreign, pickled objects) raises one RobauditError
    line, ``error`` formatted with ``path`` and the ``reason``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # torch raises many types: UnpicklingError, RuntimeError, EOFError...
        raise RobauditError(error.format(path=path, reason=describe_exception(exc)[:200])) from None
