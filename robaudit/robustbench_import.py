"""Importing RobustBench (its code imports ``autoattack``, which PyPI ships as ``pyautoattack``),
and the known deprecation notices that importing the model libraries prints."""

from __future__ import annotations

import sys
import warnings
from typing import Any

# (category, module the warning is attributed to, message): library notices about the libraries'
# own code, which a robaudit user can do nothing about.
KNOWN_LIBRARY_WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    (FutureWarning, r"torch\.jit\._script", r"`torch\.jit\.interface` is deprecated"),  # on `import timm`
    (UserWarning, r"robustbench\.", r"pkg_resources is deprecated"),
    (DeprecationWarning, r"timm\.models\.", r"Importing from timm\.models\.\w+ is deprecated"),  # robustbench's imports
    (UserWarning, r"torchvision\.models\._utils", r"(The parameter 'pretrained'|Arguments other than a weight enum)"),
    (FutureWarning, r"torch\.jit\._serialization", r"`torch\.jit\.load` is deprecated"),  # file: TorchScript models
)


def filter_known_library_warnings() -> None:
    """Hide only the notices in KNOWN_LIBRARY_WARNINGS (each matched by category, module and message)."""
    for category, module, message in KNOWN_LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def import_robustbench() -> Any:
    """Import robustbench, aliasing its ``autoattack`` import to PyPI's ``pyautoattack``."""
    try:
        import pyautoattack
        import pyautoattack.state

        sys.modules.setdefault("autoattack", pyautoattack)
        sys.modules.setdefault("autoattack.state", pyautoattack.state)
    except ImportError:
        pass
    import robustbench.utils

    return robustbench
