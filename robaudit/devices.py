"""The one device resolver: "auto", "cpu", "cuda" or "cuda:N" → a torch.device."""

from __future__ import annotations

import torch

from robaudit.errors import RobauditError


def resolve_device(name: str) -> torch.device:
    """'auto' → cuda if available else cpu; 'cpu'; 'cuda' / 'cuda:N' (error if unavailable)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RobauditError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise RobauditError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
