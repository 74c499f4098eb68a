"""What several benchmarks share: models with random weights, synthetic npz data, and the
plain-inference side that probes are compared with."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import Tensor

from robaudit.data import ImageSet, load_dataset
from robaudit.models import load_model
from robaudit.models.wrapper import AuditedModel
from robaudit.probes.base import ProbeContext

FACTORIES = Path(__file__).with_name("factories.py")


def bench_model(name: str, device: torch.device | str = "cpu", data: ImageSet | None = None) -> AuditedModel:
    """``embedded`` (the embedded CNN, trained on first use), a factory of factories.py by name, or
    any robaudit model spec (with a colon); models that take their size from the data get ``data``'s."""
    spec = "embedded:cnn" if name == "embedded" else name if ":" in name else f"py:{FACTORIES}:{name}"
    model = load_model(spec, device=device)
    if data is not None:
        model.fill_from_dataset(data.info.image_size, data.info.num_classes)
    return model


def add_probe_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a script that runs one probe: --model, --data, --set KEY=VALUE (a probe
    setting, YAML value; repeatable), --batch-size, --device."""
    parser.add_argument("--model", default="embedded", help="a factory of benchmarks/factories.py or a spec")
    parser.add_argument("--data", default="embedded", help="a dataset spec or synthetic:SIZE[:N]")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a probe setting")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def probe_run_context(args: argparse.Namespace) -> tuple[ProbeContext, dict[str, Any]]:
    """The context (model and data of ``args`` on its device) and the probe settings it asks for."""
    device = torch.device(args.device)
    data = bench_data(args.data)
    model = bench_model(args.model, device, data)
    settings = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    return ProbeContext(model=model, data=data, device=device, batch_size=args.batch_size), settings


def bench_data(spec: str) -> ImageSet:
    """``synthetic:SIZE[:N]`` (N smooth random SIZE-px images, default 1000, written to a temporary
    npz file), or any robaudit dataset spec (``embedded``, ``npz:PATH``...)."""
    if not spec.startswith("synthetic:"):
        return load_dataset(spec)
    size, _, count = spec.removeprefix("synthetic:").partition(":")
    with tempfile.TemporaryDirectory() as folder:
        path = write_synthetic_npz(Path(folder) / f"synthetic{size}.npz", int(count or 1000), int(size))
        return load_dataset(f"npz:{path}")


def cifar_resnet18() -> AuditedModel:
    """A CIFAR-size ResNet18 (3×3 stride-1 stem, no max-pool), random weights: speed only."""
    return bench_model("cifar_resnet18")


def write_synthetic_npz(path: Path, n_images: int, size: int, num_classes: int = 10, seed: int = 0) -> Path:
    """An npz dataset (robaudit's format: x uint8 (N, H, W, C), y (N,)) of smooth random images
    (8×8 noise upsampled), so corruptions and filters act on image-like spectra."""
    rng = np.random.default_rng(seed)
    x = np.empty((n_images, size, size, 3), dtype=np.uint8)
    for start in range(0, n_images, 64):  # bounded memory at 224 px
        coarse = torch.from_numpy(rng.integers(0, 256, (min(64, n_images - start), 3, 8, 8)).astype(np.float32))
        fine = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
        x[start : start + len(coarse)] = fine.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.savez(path, x=x, y=np.arange(n_images) % num_classes)
    return path


def classify_plain(ctx: ProbeContext, indices: Tensor, copies: int, chunk: int) -> int:
    """Load images ``indices`` ``chunk`` at a time and classify each chunk ``copies`` times,
    unmodified, in model batches of ``ctx.batch_size``: the plain inference a probe's images
    would cost. Returns the number of correct predictions (so the work cannot be skipped)."""
    correct = 0
    for start in range(0, len(indices), chunk):
        x, y = ctx.load(indices[start : start + chunk])
        top = ctx.predict_logits(x[None].expand(copies, *x.shape).flatten(0, 1)).argmax(-1)
        correct += int((top.view(copies, -1) == y).sum())
    return correct
