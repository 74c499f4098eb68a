"""How long does a fresh process take to score the adversarial spectrum of a small model?

Builds a two-class linear model (nn.Linear(3072, 2) on 32×32 RGB, seeded) as a ``py:`` factory and
the embedded test tiles of its two classes (astronaut, brick) as an ``npz:`` file (the CLI wants
the model's label space) in a temporary folder and runs, in a fresh subprocess,

    python -m robaudit score --model py:... --data npz:... --probes adversarial-spectrum
        --protocol standard --n-images 4 --no-cache --out TMP

printing its wall and CPU seconds (target ≤ 15 s wall on 2 idle cores) and each image's minimal
size next to the exact minimum for a linear model: the smallest perturbation moving the logit
margin m to 0, δ = clip(λ w) per pixel inside the [0, 1] box (L2) or every pixel ε towards
sign(w) until it meets the box (L∞), found by bisection here in NumPy; without the box these are
|m| / ‖w‖₁ and |m| / ‖w‖₂. With ``--profile`` it runs a second time under cProfile and prints
where the time went.
Usage: python benchmarks/bench_fresh_attack.py [--norm linf] [--n-images 4] [--profile]
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from robaudit.embedded import load_photo_patches

FACTORY = """
import torch
from torch import nn

def make():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3072, 2))
    return {"model": net, "input_size": [3, 32, 32], "num_classes": 2}
"""


def linear_weights() -> tuple[np.ndarray, np.ndarray]:
    """The factory's weight (2, 3072) and bias (2,), rebuilt the same seeded way."""
    namespace: dict[str, object] = {}
    exec(FACTORY, namespace)  # noqa: S102 - our own constant source
    net = namespace["make"]()["model"]  # type: ignore[operator, index]
    layer = net[1]
    return layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()


def exact_minimum(x: np.ndarray, w: np.ndarray, margin: float, norm: str) -> float:
    """Smallest ‖δ‖ with wᵀδ = −margin and x + δ in [0, 1] (x, w: (D,)), by bisection."""
    direction = -np.sign(margin) * np.sign(w)
    room = np.where(direction > 0, 1 - x, x)  # how far each pixel can move that way
    need = abs(margin)

    def gained(t: float) -> float:
        step = np.minimum(t if norm == "linf" else t * np.abs(w), room)
        return float(np.sum(np.abs(w) * step))

    lo, hi = 0.0, 1.0 if norm == "linf" else 1e6
    if gained(hi) < need:
        return float("inf")
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gained(mid) < need else (lo, mid)
    step = np.minimum(hi if norm == "linf" else hi * np.abs(w), room)
    return float(step.max() if norm == "linf" else np.sqrt(np.sum(step**2)))


def write_two_class_tiles(path: Path) -> np.ndarray:
    """The embedded test tiles of classes 0 and 1 as an npz (NHWC uint8, labels); returns the
    images as (N, 3072) float64 in [0, 1] (CHW order, as the model sees them)."""
    data = load_photo_patches("test")
    keep = data.labels < 2
    images = data.images[keep].numpy()
    np.savez(path, x=images.transpose(0, 2, 3, 1), y=data.labels[keep].numpy())
    return images.reshape(len(images), -1).astype(np.float64) / 255


def run_score(model: str, data: str, out: Path, args: argparse.Namespace,
              profile: Path | None) -> tuple[float, float]:
    """Run ``robaudit score`` in a fresh process; returns (wall, CPU) seconds of the child."""
    prefix = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else []) + ["-m", "robaudit"]
    cmd = prefix + ["score", "--model", model, "--data", data, "--probes", "adversarial-spectrum",
                    "--protocol", args.protocol, "--n-images", str(args.n_images), "--norm", args.norm,
                    "--device", "cpu", "--no-cache", "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report_sizes(out: Path, images: np.ndarray, norm: str) -> None:
    """Each image's minimal size next to the exact minimum and the box-free closed form."""
    arrays = np.load(out / "adversarial_spectrum.npz")
    w, b = linear_weights()
    x_all = images[arrays["index"]]
    w_diff = w[1] - w[0]
    print(f"{'index':>6} {'size':>10} {'exact':>10} {'no box':>10} {'ratio':>7}")
    for i, x in enumerate(x_all):
        margin = float(w_diff @ x + b[1] - b[0])
        exact = exact_minimum(x, w_diff, margin, norm)
        free = abs(margin) / (np.abs(w_diff).sum() if norm == "linf" else np.linalg.norm(w_diff))
        size = float(arrays["size"][i])
        print(f"{int(arrays['index'][i]):>6} {size:>10.6f} {exact:>10.6f} {free:>10.6f} {size / exact:>7.4f}")


SHARES = {
    "whole process": ("robaudit/__main__.py", "<module>"),
    "run_suite (everything after imports and model loading)": ("robaudit/suite.py", "run_suite"),
    "  blend starts": ("robaudit/attacks/search.py", "_blend_start"),
    "  FMN (foolbox)": ("foolbox/attacks/fast_minimum_norm.py", "run"),
    "  PGD bisection": ("robaudit/attacks/search.py", "_pgd_bisection"),
    "  Brendel–Bethge (torch)": ("robaudit/attacks/bb_torch.py", "run"),
    "    of which the subproblem": ("robaudit/attacks/bb_step.py", "trust_region_step"),
    "  sanity checks": ("robaudit/attacks/sanity.py", "run_sanity"),
    "numba compiling (should be 0)": ("numba/core/compiler.py", "compile_extra"),
}


def print_shares(stats: pstats.Stats) -> None:
    """Cumulative seconds of the functions in SHARES (profiled time, longer than unprofiled)."""
    table = stats.stats  # type: ignore[attr-defined]
    for label, (file_part, func) in SHARES.items():
        seconds = sum(row[3] for (file, _, name), row in table.items() if file.endswith(file_part) and name == func)
        print(f"  {label:<56} {seconds:7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norm", default="linf", choices=("linf", "l2"))
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument("--protocol", default="standard")
    parser.add_argument("--profile", action="store_true", help="also run under cProfile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        factory = Path(tmp) / "linear_factory.py"
        factory.write_text(FACTORY)
        model, data = f"py:{factory}:make", f"npz:{Path(tmp) / 'tiles.npz'}"
        images = write_two_class_tiles(Path(tmp) / "tiles.npz")
        wall, cpu = run_score(model, data, Path(tmp) / "out", args, None)
        print(f"fresh process: {wall:.1f} s wall, {cpu:.1f} s CPU (target ≤ 15 s wall on 2 idle cores)")
        report_sizes(Path(tmp) / "out", images, args.norm)
        if args.profile:
            stats_path = Path(tmp) / "profile.out"
            wall, cpu = run_score(model, data, Path(tmp) / "out_profiled", args, stats_path)
            print(f"under cProfile: {wall:.1f} s wall, {cpu:.1f} s CPU; where it went:")
            print_shares(pstats.Stats(str(stats_path)))


if __name__ == "__main__":
    main()
