"""Time batched corruption generation against imagecorruptions on the same photographs.

Run: python benchmarks/bench_corruptions.py [--sizes 32 224] [--ref-images 8] [--batch 64]
Prints per-corruption per-image times (best of --repeats) and the ratio (reference / ours), measured in this run,
then the overall ratio (total reference time / total ours over all corruptions and severities).
Both sides use the ImageNet constants (the ones imagecorruptions ships), so they do the same work.
imagecorruptions 1.1.2's glass_blur and fog are patched here for scikit-image 0.26 / numpy 2.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import torch

from robaudit.corruptions import CORRUPTION_NAMES, apply_corruption
from robaudit.embedded import photograph_crops
from robaudit.probes.corruptions import generation_chunk


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


def _best_of(repeats: int, run: Any) -> float:
    """Minimum wall time of ``repeats`` runs (robust to load spikes from other processes)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def time_reference(images: np.ndarray, name: str, severity: int, repeats: int) -> float:
    from imagecorruptions import corrupt

    def run() -> None:
        for img in images:
            corrupt(img, corruption_name=name, severity=severity)

    return _best_of(repeats, run) / len(images)


def time_ours(images: np.ndarray, name: str, severity: int, batch: int, repeats: int) -> float:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = x.repeat((batch + len(x) - 1) // len(x), 1, 1, 1)[:batch]
    apply_corruption(x[:2], name, severity, torch.Generator().manual_seed(0), ref=224)  # warm-up
    gen = torch.Generator().manual_seed(1)
    return _best_of(repeats, lambda: apply_corruption(x, name, severity, gen, ref=224)) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    parser.add_argument("--ref-images", type=int, default=6)
    parser.add_argument("--batch", type=int, default=None,
                        help="images per batch (default: the probe's generation chunk for the size)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N timings per side")
    parser.add_argument("--severities", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--corruptions", nargs="+", default=list(CORRUPTION_NAMES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    patch_imagecorruptions()
    print(f"torch threads: {torch.get_num_threads()}; reference images: {args.ref_images}")
    for size in args.sizes:
        images = photograph_crops(size, args.ref_images)
        batch = args.batch or generation_chunk(size, size)
        total_ref = total_ours = 0.0
        print(f"\n{size} px  (ms per image, mean over severities {args.severities}; batch {batch})")
        print(f"{'corruption':20s} {'reference':>10s} {'ours':>9s} {'ratio':>8s}")
        for name in args.corruptions:
            ref = float(np.mean([time_reference(images, name, s, args.repeats) for s in args.severities]))
            ours = float(np.mean([time_ours(images, name, s, batch, args.repeats) for s in args.severities]))
            total_ref, total_ours = total_ref + ref, total_ours + ours
            print(f"{name:20s} {ref * 1e3:10.2f} {ours * 1e3:9.3f} {ref / ours:7.1f}x")
        print(f"{'OVERALL':20s} {total_ref * 1e3:10.2f} {total_ours * 1e3:9.3f} "
              f"{total_ref / total_ours:7.1f}x")


if __name__ == "__main__":
    main()
