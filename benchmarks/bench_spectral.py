"""Spectral probes' overhead: probe time / plain inference time over the same number of images.

For each probe the plain side loads the same images in the same chunks and classifies each
chunk as many times as the probe classifies its variants (k per cell), without perturbing or
filtering: the ratio is the cost of making the variants and of the bookkeeping. The two sides
alternate over several repeats on the same model, batch size and device, and the median of the
per-pair ratios is printed for CPU time (this process, all threads) and wall time, so background
load on a shared machine cancels out. Target: ≤ 1.1.

    python benchmarks/bench_spectral.py [--device cpu] [--repeats 5] [--heatmap-images 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from robaudit.data import load_dataset
from robaudit.models import load_model
from robaudit.probes.bandpass import BandpassProbe, BandpassSettings
from robaudit.probes.base import Probe, ProbeContext
from robaudit.probes.fourier_heatmap import FourierHeatmapProbe, FourierHeatmapSettings


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) spent in ``work()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def plan_of(probe: Probe, ctx: ProbeContext) -> list[tuple[int, int]]:
    """(k, chunk) per cell as the probe evaluates them, recorded from one run of the probe."""
    seen: list[tuple[int, int]] = []
    original = ctx.evaluate_grid

    def record(cells, indices, transform, description="grid", chunk=None):  # type: ignore[no-untyped-def]
        x, _ = ctx.load(indices[:1])
        seen.extend((transform(x, cell, 0).shape[0], chunk or ctx.batch_size) for cell in cells)
        return original(cells, indices, transform, description=description, chunk=chunk)

    ctx.evaluate_grid = record  # type: ignore[method-assign]
    try:
        probe.run(ctx)
    finally:
        del ctx.evaluate_grid
    return seen


def plain_inference(ctx: ProbeContext, indices: torch.Tensor, plan: list[tuple[int, int]]) -> None:
    """Load and classify, unmodified, as many images as the probe classifies, chunk by chunk."""
    for k, chunk in plan:
        for start in range(0, len(indices), chunk):
            x, y = ctx.load(indices[start : start + chunk])
            hits = ctx.predict_logits(x[None].expand(k, *x.shape).flatten(0, 1)).argmax(-1).view(k, -1) == y
            hits.sum(1)


def measure(name: str, probe: Probe, ctx: ProbeContext, n_images: int, repeats: int) -> None:
    plan = plan_of(probe, ctx)  # also the warm-up
    indices = torch.randperm(len(ctx.data), generator=torch.Generator().manual_seed(0))[:n_images].sort().values
    cpu_ratios, wall_ratios, probe_times = [], [], []
    for _ in range(repeats):
        probe_cpu, probe_wall = timed(lambda: probe.run(ctx))
        plain_cpu, plain_wall = timed(lambda: plain_inference(ctx, indices, plan))
        cpu_ratios.append(probe_cpu / plain_cpu)
        wall_ratios.append(probe_wall / plain_wall)
        probe_times.append((probe_cpu, probe_wall))
    images = sum(k for k, _ in plan) * len(indices)
    cpu, wall = statistics.median(t[0] for t in probe_times), statistics.median(t[1] for t in probe_times)
    print(f"{name:<16}{images:>8}{cpu:>10.2f}{wall:>10.2f}{statistics.median(cpu_ratios):>11.3f}"
          f"{statistics.median(wall_ratios):>11.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--heatmap-images", type=int, default=32)
    parser.add_argument("--bandpass-images", type=int, default=128)
    args = parser.parse_args()
    device = torch.device(args.device)
    model = load_model("embedded:cnn", device=device)
    ctx = ProbeContext(model=model, data=load_dataset("embedded"), device=device, batch_size=256)
    print(f"device={device} threads={torch.get_num_threads()} model=embedded small-cnn repeats={args.repeats}")
    print(f"{'probe':<16}{'images':>8}{'probe cpu':>10}{'wall s':>10}{'cpu ratio':>11}{'wall ratio':>11}"
          "  (medians; target ratio <= 1.1)")
    heatmap = FourierHeatmapProbe(FourierHeatmapSettings(n_images=args.heatmap_images))
    measure("fourier_heatmap", heatmap, ctx, args.heatmap_images, args.repeats)
    for kind in ("ideal", "gaussian"):
        bandpass = BandpassProbe(BandpassSettings(filter=kind, n_images=args.bandpass_images))
        measure(f"bandpass {kind}", bandpass, ctx, args.bandpass_images, args.repeats)


if __name__ == "__main__":
    main()
