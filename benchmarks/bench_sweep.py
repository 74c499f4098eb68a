"""Sweep overhead and sharing: a sweep's time over the sum of single `score` runs of the same models,
and the Ray executor's speed-up with 2 workers over the local executor.

Both sides run in this one process on the same models (small CNNs on the embedded set with the
on-the-fly corruption probe and the hybrid probe), each into a fresh folder. The two sides are
interleaved over repeats (order rotating) and the median of the per-pair ratios is reported,
for CPU time and wall time (benchmarks/timing.py). The sweep side includes what a sweep adds: validation, sweep.json and
the leaderboard after every model; it gains the dataset and corruption sets shared across models.

    python benchmarks/bench_sweep.py [--models 3] [--repeats 3] [--n-images 200] [--no-ray]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import torch
import yaml
from timing import interleave

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
                "class_names": [str(c) for c in range(10)], "name": f"m{index}",
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


def singles(zoo: Path, out: Path) -> None:
    """One `score` run per model (run_suite, as `score` calls it)."""
    for job in plan_sweep(zoo, out)[1]:
        run_suite(job.config)


def sweep(zoo: Path, out: Path, executor: str = "local", options: ExecutorOptions | None = None) -> None:
    shared.forget_shared()
    outcome = run_sweep(zoo, out, executor, options)
    assert outcome.exit_code == 0, outcome.record


def sweep_vs_singles(zoo: Path, work: Path, repeats: int) -> None:
    """Each run writes into a new folder (nothing reused from an earlier run's output)."""
    runs = itertools.count()
    timings = interleave({"sweep": lambda: sweep(zoo, work / f"sweep{next(runs)}"),
                          "singles": lambda: singles(zoo, work / f"singles{next(runs)}")},
                         repeats=repeats, warmup=0)
    print(timings.line("sweep", "singles", 1.05, "sweep / sum of single runs")
          + "  (< 1 with shared corruption sets)")


def ray_speedup(work: Path, models: int, n_images: int, repeats: int) -> None:
    """Ray workers are long-lived processes that keep their shared corruption sets, so every run
    uses a new seed (fresh corruption images). Wall time only: the workers are not this process's
    children, so their CPU time is not counted."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    seeds = itertools.count(101)

    def run(executor: str, options: ExecutorOptions | None) -> None:
        seed = next(seeds)
        sweep(make_zoo(work, models, n_images, seed=seed), work / f"{executor}{seed}", executor, options)

    try:
        ray_options = ExecutorOptions(folder=work, cpus_per_model=1)
        timings = interleave({"local": lambda: run("local", None), "ray": lambda: run("ray", ray_options)},
                             repeats=repeats, warmup=1)  # the warm-up round starts the Ray workers
    finally:
        ray.shutdown()
    print(f"ray executor, 2 workers × 1 CPU, vs local in-process (torch threads {torch.get_num_threads()}): "
          f"wall speed-up {1 / timings.ratio('ray', 'local'):.2f}× (median of {repeats} interleaved pairs)")


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
