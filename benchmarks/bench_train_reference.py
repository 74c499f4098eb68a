"""Time per training step of each reference kind divided by the baseline's, in one run.

Synthetic 32-px data (so no download is needed); every kind uses the same arch, batch and
device; kinds are timed in interleaved rounds (order rotating) after warm-up rounds, and the
median wall and CPU time per step and the median of per-round ratios to the baseline are
reported (benchmarks/timing.py; CUDA: the clock is synchronised).

    python benchmarks/bench_train_reference.py --arch resnet18 --width 0.5 --steps 20
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timing import Timings, interleave

from robaudit.data.base import DatasetInfo, TensorImageSet
from robaudit.devices import resolve_device
from robaudit.references.distributed import World
from robaudit.references.setup import TrainSpec, prepare
from robaudit.references.train import _Run
from robaudit.seeding import seeded_generator

KINDS = ("baseline", "blur", "pca", "neural", "pixel", "response")


def synthetic(n: int, size: int) -> TensorImageSet:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    info = DatasetInfo("synthetic", "synthetic", "train", n, 10, (3, size, size))
    return TensorImageSet(images, torch.arange(n) % 10, info)


def build_run(kind: str, args: argparse.Namespace, data: TensorImageSet, folder: Path) -> _Run:
    """A ready training run of this kind (same arch, batch and device for every kind)."""
    rng = np.random.default_rng(0)
    reg, resp = folder / "x.npy", folder / "r.npy"
    np.save(reg, (rng.random((500, 32, 32, 3)) * 255).astype(np.uint8))
    np.save(resp, rng.poisson(2.0, size=(500, 100)).astype(np.float32))
    extra: dict[str, Any] = {
        "neural": {"reg_images": reg, "responses": resp},
        "response": {"reg_images": reg, "responses": resp},
    }.get(kind, {})
    overrides = {"width": args.width, "batch_size": args.batch, "eval_images": 0, "components": 256}
    spec = TrainSpec(
        kind=kind, arch=args.arch, out=folder / f"{kind}.pt", device=args.device,
        overrides=overrides, quiet=True, **extra,
    )  # fmt: skip
    return _Run(spec, prepare(spec, data, None), resolve_device(args.device), World())


def time_steps(runs: dict[str, _Run], args: argparse.Namespace) -> Timings:
    """One step of every run per round, rounds interleaved, so a change in machine load affects
    every kind alike. On a shared CPU the CPU time (all threads of this process) is the steadier
    measure of the work a step does; on CUDA only the (synchronised) wall time means anything."""
    idx = torch.arange(args.batch)
    aug, pairs = seeded_generator(0, "a"), seeded_generator(0, "p")
    steps = {kind: (lambda r=run: r._step(idx, aug, pairs)) for kind, run in runs.items()}
    return interleave(steps, repeats=args.steps, warmup=args.warmup, device=resolve_device(args.device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="small-cnn")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    data = synthetic(max(args.batch, 512), 32)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {k: build_run(k, args, data, Path(tmp)) for k in KINDS}
        times = time_steps(runs, args)
    device = resolve_device(args.device)
    print(
        f"arch {args.arch} width {args.width} batch {args.batch} (+16 pairs), "
        f"device {device}, {torch.get_num_threads()} threads"
    )
    print(f"{args.steps} interleaved rounds after {args.warmup} warm-up rounds; medians (ratios: of per-round ratios)")
    print("| kind | wall ms / step | wall ratio | CPU ms / step | CPU ratio |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        cpu, wall = times.ratios(kind, "baseline")
        print(f"| {kind} | {times.median(kind) * 1e3:.1f} | {wall:.2f} "
              f"| {times.median(kind, 'cpu') * 1e3:.1f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
