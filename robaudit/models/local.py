"""Local model sources: ``file:`` (TorchScript or robaudit checkpoint) and ``py:`` (a factory).

The ``py:`` source imports and runs user code by design: only point it at code you trust.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import numbers
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robaudit.digests import file_sha256
from robaudit.errors import RobauditError, describe_exception
from robaudit.models.base import MODEL_SOURCES, LoadOptions, ModelSource
from robaudit.models.wrapper import ModelInfo
from robaudit.references.checkpoint import FORMAT, build_from_checkpoint
from robaudit.registry import suggest
from robaudit.torch_files import load_weights_only


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
        mean=_channel_values(spec, meta, "mean", 0.0, input_size),
        std=_channel_values(spec, meta, "std", 1.0, input_size),
        class_names=meta.get("class_names"),
        extra={k: v for k, v in meta.items() if k in ("kind", "dataset", "settings", "seed", "arch")},
    )


def _channel_values(spec: str, meta: dict[str, Any], key: str, default: float,
                    input_size: tuple[int, ...]) -> tuple[float, ...]:
    """``meta[key]`` (mean or std) as finite numbers, one per channel or one for all; std > 0."""
    value = meta.get(key, (default,))
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    channels = input_size[0] if input_size and input_size[0] else None
    ok = bool(items) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                             for v in items)
    if not ok or len(items) not in {1, channels or len(items)} or (key == "std" and ok and min(items) <= 0):
        count = f"{channels} numbers (one per channel) or one" if channels else "one number per channel, or one"
        positive = ", each > 0" if key == "std" else ""
        raise RobauditError(f"{spec}: metadata {key} must be {count}{positive}, found {value!r:.80}")
    return tuple(float(v) for v in items)


def build_from_payload(payload: dict[str, Any], spec: str) -> tuple[nn.Module, ModelInfo]:
    """Rebuild a network from a loaded robaudit reference checkpoint dict."""
    net, meta = build_from_checkpoint(payload)
    return net, info_from_meta(spec, "file", meta)


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
            net, info = _load_torchscript(path, f"file:{name}")
            info.extra["code_sha256"] = file_sha256(path)  # its forward code and metadata, beside the weights
            return net, info
        payload = load_weights_only(path, "cannot read checkpoint {path}: {reason}; file: takes a TorchScript "
                                          "archive or a robaudit checkpoint")
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
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
        raise RobauditError(f"cannot load TorchScript {path}: {describe_exception(exc)[:160]}") from None
    if not extra["robaudit.json"]:
        raise RobauditError(
            f"TorchScript {path} lacks its metadata: save it with "
            "_extra_files={'robaudit.json': json.dumps({'input_size': [C, H, W], 'num_classes': K, "
            "'mean': [...], 'std': [...]})}"
        )
    try:
        meta = json.loads(extra["robaudit.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RobauditError(f"TorchScript {path} has unreadable robaudit.json metadata ({exc}); "
                            "save it as JSON") from None
    return net, info_from_meta(spec, "file", meta if isinstance(meta, dict) else {})


@MODEL_SOURCES.register("py")
class PythonSource(ModelSource):
    """``py:FILE.py:FUNC`` or ``py:package.module:FUNC``: FUNC() returns an nn.Module, or a dict
    {"model": module, "input_size": [C, H, W], "num_classes": K, "mean", "std", "class_names"}.
    A bare module without input_size/num_classes takes them from the dataset: ModelInfo then has
    ``extra["from_dataset"] = True`` and input_size (0, 0, 0), num_classes 0 until
    :meth:`AuditedModel.fill_from_dataset` sets them. This runs the user's code by design."""

    prefix = "py"
    description = "a Python factory function (runs your code)"

    def build(self, name: str, options: LoadOptions) -> tuple[nn.Module, ModelInfo]:
        target, sep, func_name = name.rpartition(":")
        if not sep or not target:
            raise RobauditError(f"py:{name} must be py:FILE.py:FUNC or py:package.module:FUNC")
        module = _import_target(target)
        factory = getattr(module, func_name, None)
        if not callable(factory):
            functions = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
            raise RobauditError(f"{target} has no function {func_name!r}.{suggest(func_name, functions)}")
        try:
            made = factory()
        except (Exception, SystemExit) as exc:  # the user's code: any exception (sys.exit too) is one line
            raise RobauditError(f"py:{name}: {func_name}() raised {describe_exception(exc)}") from None
        meta = dict(made) if isinstance(made, dict) else dict(getattr(made, "robaudit_meta", {}))
        net = made["model"] if isinstance(made, dict) else made
        if not isinstance(net, nn.Module):
            raise RobauditError(f"py:{name} returned {type(net).__name__}, not a torch.nn.Module")
        from_dataset = "num_classes" not in meta or "input_size" not in meta
        if from_dataset:
            meta.update(input_size=[0, 0, 0], num_classes=0)
        info = info_from_meta(f"py:{name}", "py", meta)
        if from_dataset:
            info.extra["from_dataset"] = True
        source = getattr(module, "__file__", None)
        if source and Path(source).is_file():  # the factory's code: a changed forward pass is another model
            info.extra["code_sha256"] = file_sha256(Path(source))
        return net, info


def _import_target(target: str) -> Any:
    if target.endswith(".py"):
        return _import_file(Path(target).expanduser())
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise RobauditError(f"cannot import {target}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise RobauditError(f"importing {target} raised {describe_exception(exc)}") from None


def _import_file(path: Path) -> Any:
    """Import a factory file with its own folder on sys.path (so it can import modules beside it)."""
    if not path.is_file():
        raise RobauditError(f"Python file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"robaudit_user_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # SyntaxError, ImportError, sys.exit, anything the file raises
        raise RobauditError(f"importing {path} raised {describe_exception(exc)}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module
