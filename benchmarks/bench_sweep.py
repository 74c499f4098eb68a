"""Sweep overhead and sharing: a sweep's time over the sum of single `score` runs of the same models,
and the Ray executor's speed-up with 2 workers over the local executor.

Both sides run in this one process on the same models (small CNNs on the embedded set with the
on-the-fly corruption probe and the hybrid probe), each into a fresh folder. The two sides are
interleaved over repeats (order alternating) and the median of the per-pair ratios is reported,
for CPU time and wall time. The sweep side includes what a sweep adds: validation, sweep.json and
the leaderboard after every model; it gains the dataset and corruption sets shared across models.

    python benchmarks/bench_sweep.py [--models 3] [--repeats 3] [--n-images 200] [--no-ray]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

from robaudit.references.backbones import ArchSpec
from robaudit.references.checkpoint import build_net, make_checkpoint, save_torch
from robaudit.suite import run_suite
from robaudit.sweep import plan_sweep, run_sweep, shared
from robaudit.sweep.executors import ExecutorOptions


def make_zoo(root: Path, models: int, n_images: int, seed: int = 0) -> Path:
    """``models`` small CNNs (random weights, different seeds) and a zoo running two probes on them
    with ``seed`` (a new seed means new corruption images: nothing is reused from earlier runs)."""
    for index in range(models):
        arch = ArchSpec("small-cnn", num_classes=10, width=0.5).to_json()
        info = {"input_size": [3, 32, 32], "num_classes": 10, "mean": [0.5] * 3, "std": [0.25] * 3,
                "class_names": [str(c) for c in range(10)],
                "arch": arch, "prefilter": []}
        torch.manual_seed(index)
        save_torch(make_checkpoint(build_net(info), info), root / f"m{index}.pt")
    zoo = {"data": "embedded", "probes": ["corruptions", "hybrid"], "n_images": n_images, "hybrid_seeds": 2,
           "seed": seed,
           "set": ["corruptions.corruptions=[gaussian_noise,glass_blur,motion_blur,snow,elastic_transform]",
                   "corruptions.severities=[1,3,5]", "corruptions.noise_sweep=[0.0,0.1]"],
           "models": ["file:m*.pt"]}
    (root / f"zoo{seed}.yaml").write_text(yaml.safe_dump(zoo))
    return root / f"zoo{seed}.yaml"


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of ``run()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def singles(zoo: Path, out: Path) -> None:
    """One `score` run per model (run_suite, as `score` calls it)."""
    for job in plan_sweep(zoo, out)[1]:
        run_suite(job.config)


def sweep(zoo: Path, out: Path, executor: str = "local", options: ExecutorOptions | None = None) -> None:
    shared.forget_shared()
    outcome = run_sweep(zoo, out, executor, options)
    assert outcome.exit_code == 0, outcome.record


def sweep_vs_singles(zoo: Path, work: Path, repeats: int) -> None:
    ratios_cpu, ratios_wall, sweep_wall, singles_wall = [], [], [], []
    for repeat in range(repeats):
        sides = {"sweep": lambda r=repeat: sweep(zoo, work / f"sweep{r}"),
                 "singles": lambda r=repeat: singles(zoo, work / f"singles{r}")}
        order = ["sweep", "singles"] if repeat % 2 == 0 else ["singles", "sweep"]
        times = {side: timed(sides[side]) for side in order}
        ratios_cpu.append(times["sweep"][0] / times["singles"][0])
        ratios_wall.append(times["sweep"][1] / times["singles"][1])
        sweep_wall.append(times["sweep"][1])
        singles_wall.append(times["singles"][1])
    median = statistics.median
    print(f"sweep wall {median(sweep_wall):.1f} s, sum of single runs {median(singles_wall):.1f} s")
    print(f"sweep / sum of single runs: CPU {median(ratios_cpu):.3f}, wall {median(ratios_wall):.3f} "
          f"(median of {repeats} interleaved pairs; target ≤ 1.05, < 1 with shared corruption sets)")


def ray_speedup(work: Path, models: int, n_images: int, repeats: int) -> None:
    """Ray workers are long-lived processes that keep their shared corruption sets, so every
    repeat uses a new seed (fresh corruption images) on both sides."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    speedups = []
    try:
        ray_options = ExecutorOptions(folder=work, cpus_per_model=1)
        sweep(make_zoo(work, models, n_images, seed=100), work / "ray-warmup", "ray", ray_options)  # start-up
        for repeat in range(repeats):
            zoo = make_zoo(work, models, n_images, seed=101 + repeat)
            local_s = timed(lambda r=repeat, z=zoo: sweep(z, work / f"local{r}"))[1]
            ray_s = timed(lambda r=repeat, z=zoo: sweep(z, work / f"ray{r}", "ray", ray_options))[1]
            speedups.append(local_s / ray_s)
    finally:
        ray.shutdown()
    print(f"ray executor, 2 workers × 1 CPU, vs local in-process (torch threads {torch.get_num_threads()}): "
          f"wall speed-up {statistics.median(speedups):.2f}× (median of {repeats})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-images", type=int, default=200)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--only-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        zoo = make_zoo(work, args.models, args.n_images)
        print(f"{args.models} models (small-cnn width 16), embedded set, {args.n_images} images, "
              f"probes corruptions (5 corruptions × 3 severities, generated) + hybrid; torch threads "
              f"{torch.get_num_threads()}")
        sweep(zoo, work / "warmup")  # imports, the embedded set's first load
        if not args.only_ray:
            sweep_vs_singles(zoo, work, args.repeats)
        if not args.no_ray:
            ray_speedup(work, args.models, args.n_images, args.repeats)


if __name__ == "__main__":
    main()
