"""Model loading: ``load_model("timm:resnet18")`` → an :class:`AuditedModel` on the device."""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from robaudit.models import local, robustbench_source, sources  # noqa: F401  (register the sources)
from robaudit.models.base import MODEL_SOURCES, LoadOptions, ModelSource, check_weights_taken, parse_spec
from robaudit.models.wrapper import AuditedModel, ModelInfo, resolve_device
from robaudit.torch_files import load_weights_only

DEFAULT_MODEL = "embedded:cnn"


@MODEL_SOURCES.register("embedded")
class EmbeddedModelSource(ModelSource):
    """``embedded:cnn``: a small CNN for the embedded dataset, trained on first use (≈30 s on
    2 CPU cores) and cached under $ROBAUDIT_HOME (default ~/.cache/robaudit)."""

    prefix = "embedded"
    description = "the embedded default's small CNN (trained on first use, cached)"

    def available(self) -> list[str]:
        return ["cnn"]

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        from robaudit.embedded import embedded_model_path, train_embedded_model
        from robaudit.errors import RobauditError

        if name != "cnn":
            raise RobauditError(f"unknown embedded model {name!r}; the only one is embedded:cnn")
        path = embedded_model_path()
        with _exclusive(path.with_name(path.name + ".lock")):  # one process trains, the others wait and reuse
            if not path.exists():
                train_embedded_model(path)
        payload = load_weights_only(path, "the cached embedded model {path} is unreadable ({reason}); "
                                          "delete it and run again to retrain it")
        net, info = local.build_from_payload(payload, "embedded:cnn")
        info.source = "embedded"
        info.extra["checkpoint"] = str(path)
        return net, info


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (waits for another holder)."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_model(
    spec: str,
    device: str | torch.device = "cpu",
    weights: str | Path | None = None,
    model_dir: str | Path | None = None,
) -> AuditedModel:
    """Load ``PREFIX:NAME`` from its source and wrap it: [0, 1] input, eval, on ``device``."""
    prefix, name = parse_spec(spec)
    check_weights_taken(prefix, weights or None)
    target = device if isinstance(device, torch.device) else resolve_device(device)
    options = LoadOptions(
        weights=Path(weights) if weights else None,
        model_dir=Path(model_dir) if model_dir else None,
        device=target,
    )
    net, info = MODEL_SOURCES.get(prefix)().build(name, options)
    return AuditedModel(net, info).to(target)


def list_models(pattern: str = "*", source: str | None = None) -> dict[str, list[str]]:
    """What each source offers, filtered by a glob ``pattern`` (``*`` if none)."""
    prefixes = [source] if source else MODEL_SOURCES.names()
    listing: dict[str, list[str]] = {}
    for prefix in prefixes:
        names = MODEL_SOURCES.get(prefix)().available()
        glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
        listing[prefix] = [n for n in names if fnmatch.fnmatch(n.lower(), glob.lower())]
    return listing


__all__ = ["DEFAULT_MODEL", "AuditedModel", "ModelInfo", "load_model", "list_models", "MODEL_SOURCES"]
