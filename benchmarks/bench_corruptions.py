"""Corruptions: batched generation against imagecorruptions, and the probe's overhead over inference.

1. Generation (``--part generation``): per corruption, time per image of imagecorruptions 1.1.2
   (per image) and of ours (one batch) on the same photographs, every severity, and the ratio
   reference / ours, then overall (total reference time per image / total ours).
2. Probe overhead (``--part probe``): the whole corruption probe (generation included) / plain
   inference of its images (the same images in the same chunks, classified once per cell,
   unmodified), on a CIFAR ResNet18 with random weights by default. Target: ≤ 1.2.
3. Split (``--part split``, a diagnostic): per corruption, our generation's wall time per image
   on ``--device`` in the probe's chunks, every severity, next to the model's inference per image
   in batches of ``--batch-size``: which corruptions set the probe's overhead on that device.

Both sides of each ratio are measured in this run, interleaved, median of per-pair ratios, CPU
and wall (benchmarks/timing.py). Both generation sides use the ImageNet constants (the ones
imagecorruptions ships), so they do the same work; imagecorruptions 1.1.2's glass_blur and fog
are patched here for scikit-image 0.26 / numpy 2.

    python benchmarks/bench_corruptions.py [--part generation probe] [--sizes 32 224] [--repeats 3]
    python benchmarks/bench_corruptions.py --part probe split --model resnet50 --data synthetic:224:64 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from typing import Any

import numpy as np
import torch
from common import bench_data, bench_model, classify_plain
from timing import Timings, interleave, measure

from robaudit.corruptions import CORRUPTION_NAMES, apply_corruption
from robaudit.embedded import photograph_crops
from robaudit.probes.base import ProbeContext
from robaudit.probes.corruptions import CorruptionProbe, CorruptionSettings, generation_chunk
from robaudit.seeding import seeded_subset

TARGET = 1.2


def patch_imagecorruptions() -> None:
    """Make imagecorruptions 1.1.2 run on scikit-image 0.26 and numpy 2 (test/bench only)."""
    import imagecorruptions.corruptions as ic
    from skimage.filters import gaussian

    def gaussian_compat(image: Any, sigma: float = 1, multichannel: bool | None = None, **kw: Any) -> Any:
        if multichannel:
            kw["channel_axis"] = -1
        return gaussian(image, sigma=sigma, **kw)

    ic.gaussian = gaussian_compat
    if not hasattr(np, "float_"):
        setattr(np, "float_", np.float64)  # noqa: B010 - removed in numpy 2


def generation_timings(images: np.ndarray, name: str, severities: list[int], batch: int,
                       repeats: int) -> Timings:
    """imagecorruptions (per image, its uint8 HWC API) against ours (one batch) on the same
    photographs, every severity per round; timings per image via ``per_item``."""
    from imagecorruptions import corrupt

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = x.repeat((batch + len(x) - 1) // len(x), 1, 1, 1)[:batch]
    gen = torch.Generator().manual_seed(1)

    def reference() -> None:
        for severity in severities:
            for img in images:
                corrupt(img, corruption_name=name, severity=severity)

    def ours() -> None:
        for severity in severities:
            apply_corruption(x, name, severity, gen, ref=224)

    return interleave({"reference": reference, "ours": ours}, repeats=repeats, warmup=1,
                      per_item={"reference": len(images), "ours": batch})


def generation(args: argparse.Namespace) -> None:
    """Per corruption and overall: reference time per image / ours (median of per-pair ratios)."""
    for size in args.sizes:
        images = photograph_crops(size, args.ref_images)
        batch = args.batch or generation_chunk(size, size)
        print(f"\n{size} px: imagecorruptions / ours, time per image (severities {args.severities}; "
              f"batch {batch}; median of {args.repeats} interleaved pairs)")
        print(f"{'corruption':20s} {'ref ms':>8s} {'ours ms':>8s} {'CPU ratio':>10s} {'wall ratio':>11s}")
        per_corruption = []
        for name in args.corruptions:
            t = generation_timings(images, name, args.severities, batch, args.repeats)
            per_corruption.append(t)
            per = len(args.severities)
            ref_ms, ours_ms = t.median("reference") / per / len(images), t.median("ours") / per / batch
            cpu, wall = t.ratios("reference", "ours")
            print(f"{name:20s} {ref_ms * 1e3:8.2f} {ours_ms * 1e3:8.3f} {cpu:9.1f}x {wall:10.1f}x", flush=True)
        cpu, wall = (overall_ratio(per_corruption, clock, len(images), batch) for clock in ("cpu", "wall"))
        print(f"{'OVERALL':20s} {'':8s} {'':8s} {cpu:9.1f}x {wall:10.1f}x  "
              "(median over rounds of total reference time / total ours, per image)")


def overall_ratio(timings: list[Timings], clock: str, n_reference: int, n_ours: int) -> float:
    """Median over rounds of (Σ corruptions reference time per image) / (Σ ours per image)."""
    rounds = len(timings[0].samples["ours"])
    return statistics.median(
        sum(getattr(t.samples["reference"][r], clock) for t in timings) / n_reference
        / (sum(getattr(t.samples["ours"][r], clock) for t in timings) / n_ours) for r in range(rounds))


def plain_inference(ctx: ProbeContext, probe: CorruptionProbe) -> int:
    """Load and classify, unmodified, every image the probe classifies: per cell, the images in
    the probe's generation chunks, gathered into model batches of ``batch_size`` as the probe does."""
    settings = probe.settings
    idx = seeded_subset(len(ctx.data), settings.n_images, ctx.generator("corruptions", "subset"))
    _, h, w = ctx.data.info.image_size
    chunk = generation_chunk(h, w)
    cells = len(settings.names()) * len(settings.severities) + 1  # + the clean cell
    correct = sum(classify_gathered(ctx, idx, chunk) for _ in range(cells))
    # the noise sweep goes through evaluate_grid: one model call per chunk
    return correct + sum(classify_plain(ctx, idx, 1, chunk) for _ in settings.noise_sweep)


def classify_gathered(ctx: ProbeContext, idx: torch.Tensor, chunk: int) -> int:
    """Images loaded ``chunk`` at a time, classified once ``batch_size`` of them are gathered."""
    correct, pending = 0, []
    for start in range(0, len(idx), chunk):
        pending.append(ctx.load(idx[start : start + chunk]))
        if sum(len(y) for _, y in pending) >= ctx.batch_size or start + chunk >= len(idx):
            xs, ys = torch.cat([x for x, _ in pending]), torch.cat([y for _, y in pending])
            correct += int((ctx.predict_logits(xs).argmax(-1) == ys).sum())
            pending = []
    return correct


def probe_context(args: argparse.Namespace) -> ProbeContext:
    """The model and data of ``args`` on its device, in model batches of ``--batch-size``."""
    device = torch.device(args.device)
    data = bench_data(args.data)
    return ProbeContext(model=bench_model(args.model, device, data), data=data, device=device,
                        batch_size=args.batch_size)


def probe_overhead(args: argparse.Namespace) -> None:
    """The whole corruption probe (generation included) / plain inference of its images."""
    ctx = probe_context(args)
    device, data = ctx.device, ctx.data
    settings = CorruptionSettings(n_images=args.probe_images, corruptions=args.corruptions,
                                  severities=args.severities)
    probe = CorruptionProbe(settings)
    timings = interleave({"probe": lambda: probe.run(ctx), "plain": lambda: plain_inference(ctx, probe)},
                         repeats=args.repeats, warmup=1, device=device)
    cells = len(settings.names()) * len(settings.severities) + len(settings.noise_sweep) + 1
    print(f"\ncorruption probe on {args.model}, {args.data} {data.info.image_size}, {args.probe_images} images × "
          f"{cells} cells, batch {args.batch_size}, device {device}")
    print(timings.line("probe", "plain", TARGET, "corruption probe / plain inference of its images"), flush=True)


def generation_split(args: argparse.Namespace) -> None:
    """Per corruption, our generation's wall time per image on the device (the probe's chunks, every
    severity; median of the rounds after one warm-up) and its multiple of the model's inference."""
    ctx = probe_context(args)
    device, data = ctx.device, ctx.data
    _, h, w = data.info.image_size
    x, _ = ctx.load(torch.arange(min(generation_chunk(h, w), len(data))))
    batch = x.repeat((args.batch_size + len(x) - 1) // len(x), 1, 1, 1)[: args.batch_size]

    def per_image(work: Any, images: int) -> float:
        walls = [measure(work, device).wall for _ in range(args.repeats + 1)][1:]
        return statistics.median(walls) / images

    infer = per_image(lambda: ctx.predict_logits(batch), len(batch))
    print(f"\ngeneration on {device}, {data.info.image_size}, chunks of {len(x)} images, severities "
          f"{args.severities}; inference {infer * 1e3:.3f} ms per image ({args.model}, batch {len(batch)})")
    total = 0.0
    for name in args.corruptions:
        gen = torch.Generator().manual_seed(0)
        each = per_image(lambda: [apply_corruption(x, name, s, gen) for s in args.severities],  # noqa: B023
                         len(x) * len(args.severities))
        total += each
        print(f"{name:20s} {each * 1e3:8.3f} ms per image  {each / infer:7.2f}× inference", flush=True)
    mean = total / len(args.corruptions)
    print(f"{'MEAN':20s} {mean * 1e3:8.3f} ms per image  {mean / infer:7.2f}× inference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", choices=["generation", "probe", "split"], default=["generation", "probe"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224], help="generation: image sizes")
    parser.add_argument("--ref-images", type=int, default=6, help="generation: images per reference round")
    parser.add_argument("--batch", type=int, default=None,
                        help="generation: images per batch (default: the probe's generation chunk for the size)")
    parser.add_argument("--repeats", type=int, default=3, help="recorded interleaved rounds")
    parser.add_argument("--severities", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--corruptions", nargs="+", default=list(CORRUPTION_NAMES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--model", default="cifar_resnet18", help="probe: a factory of factories.py or a spec")
    parser.add_argument("--data", default="embedded", help="probe: a dataset spec or synthetic:SIZE[:N]")
    parser.add_argument("--probe-images", type=int, default=16, help="probe: images per cell")
    parser.add_argument("--batch-size", type=int, default=256, help="probe: model batch size")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    print(f"torch threads: {torch.get_num_threads()}")
    if "generation" in args.part:
        patch_imagecorruptions()
        generation(args)
    if "probe" in args.part:
        probe_overhead(args)
    if "split" in args.part:
        generation_split(args)


if __name__ == "__main__":
    main()
