"""Hybrid probe overhead: probe time / plain inference of as many images, in one run.

The plain side loads the probe's low images in the probe's chunks and classifies each chunk
once per grid frequency, unmodified, plus the clean pass over the images the pairs use; the
probe side runs the whole probe (pairing, hybrids, softmax counts, clean check). Same model,
batch size and device; sides interleaved, median of per-pair ratios, CPU and wall
(benchmarks/timing.py). Target: ≤ 1.15.

    python benchmarks/bench_hybrid.py [--device cpu] [--repeats 3] [--n-images 200] [--seeds 1]
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from common import bench_model, classify_plain
from timing import interleave

from robaudit.data import load_dataset
from robaudit.probes.base import ProbeContext
from robaudit.probes.hybrid import HybridProbe, HybridSettings, hybrid_pairs

TARGET = 1.15


def plain_inference(ctx: ProbeContext, settings: HybridSettings) -> int:
    """Classify, unmodified, as many images as the probe classifies, in the probe's chunks."""
    c, h, w = ctx.data.info.image_size
    grid = len(settings.grid)
    chunk = ctx.chunk_images(grid, 4 * c * h * w)
    correct, used = 0, []
    for seed in range(settings.seeds):
        low, _ = hybrid_pairs(ctx.data.labels, settings.n_images, ctx.generator("hybrid", "pairs", seed))
        correct += classify_plain(ctx, low, grid, chunk)
        used.append(low)
    return correct + classify_plain(ctx, torch.unique(torch.cat(used)), 1, ctx.batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-images", type=int, default=200, help="pairs per seed (the probe's default: 1000)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--models", nargs="+", default=["embedded", "cifar_resnet18"],
                        help="embedded (the embedded CNN) or factories in benchmarks/factories.py")
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_dataset("embedded")
    settings = HybridSettings(n_images=args.n_images, seeds=args.seeds)
    print(f"device={device} threads={torch.get_num_threads()} pairs/seed={args.n_images} seeds={args.seeds} "
          f"grid={len(settings.grid)} batch={args.batch_size}")
    for name in args.models:
        model = bench_model(name, device)
        ctx = ProbeContext(model=model.to(device), data=data, device=device, batch_size=args.batch_size)
        timings = interleave({"probe": partial(HybridProbe(settings).run, ctx),
                              "plain": partial(plain_inference, ctx, settings)},
                             repeats=args.repeats, warmup=1, device=device)
        print(timings.line("probe", "plain", TARGET, f"hybrid / plain inference, {name}"), flush=True)


if __name__ == "__main__":
    main()
