"""Where timm's pretrained weights come from, decided before timm is asked.

huggingface_hub retries an unreachable hub for about 50 s and reads ``HF_HUB_OFFLINE`` only when
it is imported. Here the weights are taken from the local caches when they are there (read with
safetensors or ``torch.load(weights_only=True)``), and otherwise the offline switch (as set now)
and a 3 s connection test decide at once whether a download can work: if not, one line says how
to use a local file instead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from robaudit.errors import RobauditError
from robaudit.models.base import load_state_dict_file

TRUE_VALUES = {"1", "ON", "YES", "TRUE"}
CONNECT_TIMEOUT_S = 3.0


def local_file_hint(spec: str) -> str:
    """How to audit the model from a file on disk instead."""
    return (f"use a local file instead: `--model {spec} --weights PATH` with a state dict of this "
            "architecture, or `--model file:PATH` for a TorchScript archive or robaudit checkpoint")


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as set now or when huggingface_hub was imported."""
    from huggingface_hub import constants

    now = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return now.strip().upper() in TRUE_VALUES or bool(constants.HF_HUB_OFFLINE)


def _hub_filenames(cfg: Any) -> list[str]:
    """The files timm tries in a hub repo: the safetensors alternative first, then the named file."""
    name = cfg.hf_hub_filename or "pytorch_model.bin"
    safe = {"pytorch_model.bin": "model.safetensors",
            "open_clip_pytorch_model.bin": "open_clip_model.safetensors"}.get(name)
    if safe is None and name.endswith(".bin"):
        safe = name[:-4] + ".safetensors"
    return [n for n in (safe, name) if n]


def cached_weights(cfg: Any) -> Path | None:
    """The local copy of a timm pretrained config's weights (hub cache, then torch hub), if any."""
    from huggingface_hub import try_to_load_from_cache

    if cfg.hf_hub_id:
        repo, _, revision = str(cfg.hf_hub_id).partition("@")
        for filename in _hub_filenames(cfg):
            found = try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str):
                return Path(found)
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(cfg.url).path).name
        if path.is_file():
            return path
    return None


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A cached weights file as a state dict, without unpickling code."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return load_state_dict_file(path)


def unreachable(url: str) -> str | None:
    """None when a TCP connection to ``url``'s host (or its proxy) opens within 3 s, else why not."""
    import requests.utils

    proxy = requests.utils.get_environ_proxies(url).get(urlparse(url).scheme)
    target = urlparse(proxy if proxy else url)
    host, port = target.hostname or "", target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:  # DNS failure, refused, timed out
        return f"{type(exc).__name__}: {exc.strerror or exc}"


def weights_url(cfg: Any) -> str:
    """Where timm would download the weights from: the Hugging Face hub, else the config's URL."""
    from huggingface_hub import constants

    return str(constants.ENDPOINT) if cfg.hf_hub_id else str(cfg.url or constants.ENDPOINT)


def ensure_available(name: str, hint: str) -> Path | None:
    """The cached weights file of timm model ``name``, or None when timm may download it now.

    Raises RobauditError at once (ending with ``hint``) when the weights are not cached and the
    hub is offline or unreachable."""
    import timm.models

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise RobauditError(f"timm has no pretrained weights for {name}; {hint}")
    cached = cached_weights(cfg)
    if cached is not None:
        return cached
    what = f"the pretrained weights of {name}"
    if hub_offline():
        raise RobauditError(f"{what} are not in the local cache and HF_HUB_OFFLINE is set, so robaudit "
                            f"will not download them; {hint}")
    url = weights_url(cfg)
    reason = unreachable(url)
    if reason is not None:
        raise RobauditError(f"cannot reach {urlparse(url).hostname} to download {what} ({reason}); {hint}")
    return None
