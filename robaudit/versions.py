"""The one versions function: what produced a report or a checkpoint."""

from __future__ import annotations

import importlib.metadata
import platform

TRACKED_PACKAGES = ("robaudit", "torch", "torchvision", "timm", "foolbox", "robustbench", "numpy")


def package_versions() -> dict[str, str | None]:
    """{'python': '3.11.7', 'torch': '2.14.1', ...}; None for a package that is not installed."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
