"""Hybrid probe overhead: probe time / plain inference time over the same number of images.

Both are measured in this one run, on the same model, batch size and device, so the ratio is
robust to how fast or loaded the machine is. Target: ≤ 1.15.

    python benchmarks/bench_hybrid.py [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch
import torchvision
from torch import nn

from robaudit.data import load_dataset
from robaudit.models import load_model
from robaudit.models.wrapper import AuditedModel, ModelInfo
from robaudit.probes.base import ProbeContext
from robaudit.probes.hybrid import HybridProbe, HybridSettings, hybrid_pairs


def cifar_resnet18() -> AuditedModel:
    """A CIFAR-size ResNet18 (3×3 stride-1 stem, no max-pool), random weights: speed only."""
    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    info = ModelInfo(spec="bench:cifar-resnet18", source="bench", name="resnet18", input_size=(3, 32, 32),
                     num_classes=10, mean=(0.5,), std=(0.25,))
    return AuditedModel(net, info)


def plain_inference(ctx: ProbeContext, n_images: int, seeds: int, grid_points: int) -> float:
    """Seconds to load and classify as many (unmodified) images as the probe classifies."""
    start = time.perf_counter()
    for seed in range(seeds):
        low, _ = hybrid_pairs(ctx.data.labels, n_images, ctx.generator("hybrid", "pairs", seed))
        x, _ = ctx.load(low)
        ctx.predict_logits(x.repeat(grid_points, 1, 1, 1))
    return time.perf_counter() - start


def measure(model: AuditedModel, device: torch.device, repeats: int) -> tuple[float, float, int]:
    data = load_dataset("embedded")
    settings = HybridSettings(n_images=1000, seeds=4)
    ctx = ProbeContext(model=model.to(device), data=data, device=device, batch_size=256)
    HybridProbe(HybridSettings(n_images=50, seeds=1)).run(ctx)  # warm-up
    probe_s, plain_s = [], []
    for _ in range(repeats):  # interleaved, best of N: robust to background load
        start = time.perf_counter()
        result = HybridProbe(settings).run(ctx)
        probe_s.append(time.perf_counter() - start)
        plain_s.append(plain_inference(ctx, settings.n_images, settings.seeds, len(settings.grid)))
    images = result.metrics["n_pairs"] * settings.seeds * len(settings.grid)
    return min(probe_s), min(plain_s), images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    models = {"embedded small-cnn": load_model("embedded:cnn"), "cifar resnet18": cifar_resnet18()}
    print(f"device={device} threads={torch.get_num_threads()}")
    print(f"{'model':<22}{'images':>8}{'probe s':>10}{'plain s':>10}{'ratio':>8}  (target <= 1.15)")
    for name, model in models.items():
        probe, plain, images = measure(model, device, args.repeats)
        print(f"{name:<22}{images:>8}{probe:>10.2f}{plain:>10.2f}{probe / plain:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
