"""Local model sources: ``file:`` (TorchScript or robaudit checkpoint) and ``py:`` (a factory).

The ``py:`` source imports and runs user code by design: only point it at code you trust.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robaudit.errors import RobauditError
from robaudit.models.archs import ARCHITECTURES
from robaudit.models.base import MODEL_SOURCES, LoadOptions, ModelSource
from robaudit.models.wrapper import ModelInfo

CHECKPOINT_FORMAT = "robaudit-model"
REFERENCE_FORMAT = "robaudit-reference"


def info_from_meta(spec: str, source: str, meta: dict[str, Any]) -> ModelInfo:
    """ModelInfo from a metadata dict (checkpoint meta, py: factory, TorchScript extra file)."""
    try:
        input_size = tuple(int(v) for v in meta["input_size"])
        num_classes = int(meta["num_classes"])
    except (KeyError, TypeError, ValueError):
        raise RobauditError(
            f"{spec}: metadata must give input_size [C, H, W] and num_classes"
        ) from None
    return ModelInfo(
        spec=spec, source=source, name=str(meta.get("name", spec)),
        input_size=input_size,  # type: ignore[arg-type]
        num_classes=num_classes,
        mean=tuple(meta.get("mean", (0.0,))), std=tuple(meta.get("std", (1.0,))),
        class_names=meta.get("class_names"),
        extra={k: v for k, v in meta.items() if k in ("kind", "dataset", "settings", "seed", "arch")},
    )


def save_checkpoint(path: Path, arch: str, arch_kwargs: dict[str, Any], net: nn.Module, meta: dict[str, Any]) -> None:
    """Save a robaudit-model checkpoint (readable with torch.load(weights_only=True))."""
    payload = {
        "format": CHECKPOINT_FORMAT, "format_version": 1, "arch": arch, "arch_kwargs": arch_kwargs,
        "state_dict": net.state_dict(), "meta": meta,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def build_from_payload(payload: dict[str, Any], spec: str) -> tuple[nn.Module, ModelInfo]:
    """Rebuild a network from a robaudit checkpoint dict (either robaudit format)."""
    if payload.get("format") == REFERENCE_FORMAT:
        from robaudit.references.checkpoint import build_from_checkpoint

        net, meta = build_from_checkpoint(payload)
        return net, info_from_meta(spec, "file", meta)
    net = ARCHITECTURES.get(payload["arch"])(**payload.get("arch_kwargs", {}))
    net.load_state_dict(payload["state_dict"])
    return net, info_from_meta(spec, "file", payload["meta"])


@MODEL_SOURCES.register("file")
class FileSource(ModelSource):
    """``file:PATH``: a TorchScript archive (metadata from an optional ``robaudit.json`` extra
    file) or a robaudit checkpoint, always loaded with ``weights_only=True``."""

    prefix = "file"
    description = "a TorchScript archive or a robaudit checkpoint on disk"

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        path = Path(name).expanduser()
        if not path.is_file():
            raise RobauditError(f"model file {path} does not exist; check the path after file:")
        if _is_torchscript(path):
            return _load_torchscript(path, f"file:{name}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # corrupt or pickled-object files
            raise RobauditError(
                f"cannot read checkpoint {path}: {str(exc).splitlines()[0][:160]}; "
                "file: takes a TorchScript archive or a robaudit checkpoint"
            ) from None
        if not isinstance(payload, dict) or payload.get("format") not in (CHECKPOINT_FORMAT, REFERENCE_FORMAT):
            raise RobauditError(
                f"{path} is not a robaudit checkpoint (a bare state dict has no architecture); "
                "use torchvision:NAME or timm:NAME with --weights PATH, or py:FILE.py:FACTORY"
            )
        return build_from_payload(payload, f"file:{name}")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist())


def _load_torchscript(path: Path, spec: str) -> tuple[nn.Module, ModelInfo]:
    extra = {"robaudit.json": ""}
    try:
        net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except RuntimeError as exc:
        raise RobauditError(f"cannot load TorchScript {path}: {str(exc).splitlines()[0][:160]}") from None
    if not extra["robaudit.json"]:
        raise RobauditError(
            f"TorchScript {path} lacks its metadata: save it with "
            "_extra_files={'robaudit.json': json.dumps({'input_size': [C, H, W], 'num_classes': K, "
            "'mean': [...], 'std': [...]})}"
        )
    return net, info_from_meta(spec, "file", json.loads(extra["robaudit.json"]))


@MODEL_SOURCES.register("py")
class PythonSource(ModelSource):
    """``py:FILE.py:FUNC`` or ``py:package.module:FUNC``: FUNC() returns an nn.Module, or a dict
    {"model": module, "input_size": [C, H, W], "num_classes": K, "mean", "std", "class_names"}.
    This runs the user's code by design."""

    prefix = "py"
    description = "a Python factory function (runs your code)"

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        target, sep, func_name = name.rpartition(":")
        if not sep or not target:
            raise RobauditError(f"py:{name} must be py:FILE.py:FUNC or py:package.module:FUNC")
        factory = getattr(_import_target(target), func_name, None)
        if not callable(factory):
            raise RobauditError(f"{target} has no function {func_name!r}")
        made = factory()
        meta = dict(made) if isinstance(made, dict) else dict(getattr(made, "robaudit_meta", {}))
        net = made["model"] if isinstance(made, dict) else made
        if not isinstance(net, nn.Module):
            raise RobauditError(f"py:{name} returned {type(net).__name__}, not a torch.nn.Module")
        if "num_classes" not in meta or "input_size" not in meta:
            raise RobauditError(
                f"py:{name} must also give input_size and num_classes "
                "(return a dict with 'model', 'input_size', 'num_classes')"
            )
        return net, info_from_meta(f"py:{name}", "py", meta)


def _import_target(target: str) -> Any:
    if target.endswith(".py"):
        path = Path(target).expanduser()
        if not path.is_file():
            raise RobauditError(f"Python file {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"robaudit_user_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise RobauditError(f"cannot import {target}: {exc}") from None
