"""Importing RobustBench: its code imports ``autoattack``, which PyPI ships as ``pyautoattack``."""

from __future__ import annotations

import sys
from typing import Any


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
