"""`robaudit train-reference` under torchrun: two CPU processes (gloo backend), DistributedDataParallel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from robaudit.references.checkpoint import check_format

EPOCHS = 2


def load_checkpoint(path: Path) -> dict:
    """A written checkpoint, read as a user would (weights_only) and format-checked."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    check_format(ckpt)
    return ckpt


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def synthetic_npz(path: Path, n: int = 64, size: int = 16, seed: int = 0) -> None:
    """Synthetic data (not a real dataset): 4 classes, each a random base image plus per-image noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    base = rng.random((4, 3, size, size))
    x = ((base[y] * 0.7 + 0.3 * rng.random((n, 3, size, size))) * 255).astype(np.uint8)
    np.savez(path, x=x, y=y)


def test_torchrun_two_cpu_processes_train_and_write_a_loadable_checkpoint(tmp_path: Path) -> None:
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    from robaudit.models import load_model

    npz = tmp_path / "synthetic.npz"
    synthetic_npz(npz)
    out = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "robaudit", "train-reference", "baseline", "--dataset", f"npz:{npz}", "--arch", "small-cnn",
           "--out", str(out), "--device", "cpu", "--epochs", str(EPOCHS), "--width", "0.25",
           "--batch-size", "16", "--set", "eval_images=32"]  # fmt: skip
    # CPU only (gloo), one thread per process: the machine's cores are shared.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    meta = load_checkpoint(out)["meta"]
    assert meta["world_size"] == 2  # both processes joined the gloo process group
    assert meta["device"] == "cpu"
    assert [e["epoch"] for e in meta["curve"]] == list(range(1, EPOCHS + 1))
    # each rank trains on 32 of the 64 images with 16 // 2 = 8 per step: 4 steps per epoch
    assert all(e["steps"] == 4 for e in meta["curve"])
    assert all("test_acc" in e for e in meta["curve"])  # rank 0 evaluated and wrote the file
    assert all(np.isfinite(e["loss"]) and 0.0 <= e["train_acc"] <= 1.0 for e in meta["curve"])
    # rank 0 alone logs: one line per epoch and one "wrote"
    assert proc.stderr.count("wrote ") == 1 and proc.stderr.count("epoch 1:") == 1  # rank 0 alone speaks
    assert all(proc.stderr.count(f"epoch {i}: loss") == 1 for i in range(1, EPOCHS + 1))
    assert not Path(f"{out}.state").exists()  # a finished run removes its resume state

    model = load_model(f"file:{out}", device="cpu")
    x = torch.from_numpy(np.load(npz)["x"][:5]).float() / 255  # the model takes images in [0, 1]
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (5, 4) and torch.isfinite(logits).all()
