"""Spectral probes' overhead: probe time / plain inference time over the same number of images.

For each probe the plain side loads the same images in the same chunks and classifies each
chunk as many times as the probe classifies its variants (k per cell), without perturbing or
filtering: the ratio is the cost of making the variants and of the bookkeeping. The two sides
alternate over several repeats on the same model, batch size and device, and the median of the
per-pair ratios is printed for CPU time and wall time (benchmarks/timing.py), so background
load on a shared machine cancels out. Target: ≤ 1.1.

    python benchmarks/bench_spectral.py [--device cpu] [--repeats 5] [--heatmap-images 32]
    python benchmarks/bench_spectral.py --model resnet50 --data synthetic:224:256 --device cuda
"""

from __future__ import annotations

import argparse

import torch
from common import bench_data, bench_model
from timing import interleave

from robaudit.probes.bandpass import BandpassProbe, BandpassSettings
from robaudit.probes.base import Probe, ProbeContext
from robaudit.probes.fourier_heatmap import FourierHeatmapProbe, FourierHeatmapSettings

TARGET = 1.1


def plan_of(probe: Probe, ctx: ProbeContext) -> tuple[list[tuple[int, int]], torch.Tensor]:
    """(k, chunk) per cell as the probe evaluates them, and the images (indices), recorded from
    one run of the probe."""
    seen: list[tuple[int, int]] = []
    used: list[torch.Tensor] = []
    original = ctx.evaluate_grid

    def record(cells, indices, transform, description="grid", chunk=None):  # type: ignore[no-untyped-def]
        used.append(indices)
        x, _ = ctx.load(indices[:1])
        seen.extend((transform(x, cell, 0).shape[0], chunk or ctx.batch_size) for cell in cells)
        return original(cells, indices, transform, description=description, chunk=chunk)

    ctx.evaluate_grid = record  # type: ignore[method-assign]
    try:
        probe.run(ctx)
    finally:
        del ctx.evaluate_grid
    return seen, used[0]


def plain_inference(ctx: ProbeContext, indices: torch.Tensor, plan: list[tuple[int, int]]) -> None:
    """Load and classify, unmodified, as many images as the probe classifies, chunk by chunk."""
    for k, chunk in plan:
        for start in range(0, len(indices), chunk):
            x, y = ctx.load(indices[start : start + chunk])
            hits = ctx.predict_logits(x[None].expand(k, *x.shape).flatten(0, 1)).argmax(-1).view(k, -1) == y
            hits.sum(1)


def measure(name: str, probe: Probe, ctx: ProbeContext, repeats: int) -> None:
    plan, indices = plan_of(probe, ctx)  # also the warm-up
    timings = interleave({"probe": lambda: probe.run(ctx), "plain": lambda: plain_inference(ctx, indices, plan)},
                         repeats=repeats, warmup=0, device=ctx.device)
    images = sum(k for k, _ in plan) * len(indices)
    print(timings.line("probe", "plain", TARGET, f"{name} ({images} images) / plain inference"), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--heatmap-images", type=int, default=32)
    parser.add_argument("--bandpass-images", type=int, default=128)
    parser.add_argument("--model", default="embedded", help="embedded, a factory of benchmarks/factories.py "
                        "(cifar_resnet18, resnet50...) or a model spec")
    parser.add_argument("--data", default="embedded", help="a dataset spec or synthetic:SIZE[:N] (npz, no download)")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    device = torch.device(args.device)
    data = bench_data(args.data)
    model = bench_model(args.model, device, data)
    ctx = ProbeContext(model=model, data=data, device=device, batch_size=args.batch_size)
    print(f"device={device} threads={torch.get_num_threads()} model={args.model} data={args.data} "
          f"{data.info.image_size} batch={args.batch_size} repeats={args.repeats}")
    heatmap = FourierHeatmapProbe(FourierHeatmapSettings(n_images=args.heatmap_images))
    measure("fourier_heatmap", heatmap, ctx, args.repeats)
    for kind in ("ideal", "gaussian"):
        bandpass = BandpassProbe(BandpassSettings(filter=kind, n_images=args.bandpass_images))
        measure(f"bandpass {kind}", bandpass, ctx, args.repeats)


if __name__ == "__main__":
    main()
