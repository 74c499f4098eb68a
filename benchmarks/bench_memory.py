"""Peak memory per probe against the number of images: it must not grow with --n-images.

Every probe streams its images in chunks that follow the batch size, so its peak resident memory
(RSS) for 1,000 images should be within 1.2× of that for 100. Each point runs in a fresh
subprocess, on synthetic npz
data (smooth random images, robaudit's npz format, no download) holding as many images as the
largest point, and a model with random weights (default: a small strided CNN, cheap at 224 px, so
the figures show the probe's own memory). The batch size is below the smallest point, so every
point runs full batches. Loading the data peaks above what the probe uses at 224 px, so the peak
is taken over the probe's run alone: the kernel's RSS high-water mark (VmHWM) is reset just
before the probe (``/proc/self/clear_refs``) and read after it; where that is unavailable, the
process's ``resource`` ru_maxrss. Printed per probe and size: that peak at each point, its growth
over the RSS before the probe, and the ratio largest / smallest (target ≤ 1.2).

    python benchmarks/bench_memory.py --quick                      # small settings, 32 and 224 px
    python benchmarks/bench_memory.py --probes corruptions --model resnet18_224 --sizes 224 \
        --points 16 128 --batch-size 256                           # the reported case
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TARGET = 1.2
PROBE_NAMES = ("hybrid", "adversarial_spectrum", "corruptions", "fourier_heatmap", "bandpass")


def small_settings(name: str, n_images: int, batch_size: int, quick: bool) -> dict[str, Any]:
    """The probe's settings for a point: ``n_images`` images, and in ``quick`` mode few cells."""
    settings: dict[str, Any] = {"n_images": n_images}
    if name == "hybrid":
        settings |= {"seeds": 1} | ({"grid": [0.0, 0.1, 0.3, 1.0]} if quick else {})
    elif name == "adversarial_spectrum":
        settings |= {"protocol": "fast", "batch_size": batch_size, "bootstrap": 100}
        settings |= {"steps": 3, "restarts": 1} if quick else {}
    elif name == "corruptions" and quick:
        settings |= {"corruptions": ["gaussian_noise", "glass_blur", "fog"], "severities": [3],
                     "noise_sweep": [0.0, 0.1]}
    elif name == "fourier_heatmap" and quick:
        settings |= {"max_size": 3}
    elif name == "bandpass" and quick:
        settings |= {"cutoffs": [0.05, 0.25]}
    return settings


def status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB, None where there is none."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark of this process (Linux ≥ 4.0); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mib(reset: bool) -> float:
    """Peak RSS since the reset, or of the whole process (ru_maxrss, KiB on Linux), in MiB."""
    hwm = status_mib("VmHWM") if reset else None
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def relabelled(data: Any, net: Any, batch_size: int) -> Any:
    """The data labelled with the model's own predictions: every image is correctly classified,
    so the adversarial probe attacks all n images of a point, not the few a random model gets right."""
    import torch

    from robaudit.data import TensorImageSet

    with torch.no_grad():
        chunks = torch.arange(len(data)).split(batch_size)
        predicted = torch.cat([net(data.load(chunk)[0]).argmax(1) for chunk in chunks])
    return TensorImageSet(data.images, predicted, data.info)


def worker(probe: str, data_path: str, model: str, settings: dict[str, Any], batch_size: int) -> None:
    """Run one probe on one point in this (fresh) process; print {before, peak} in MiB as JSON."""
    import torch
    from common import bench_model

    from robaudit.data import load_dataset
    from robaudit.probes import PROBES
    from robaudit.probes.base import ProbeContext

    data = load_dataset(f"npz:{data_path}")
    net = bench_model(model, "cpu", data)
    if probe == "adversarial_spectrum":
        data = relabelled(data, net, batch_size)
    probe_class = PROBES.get(probe)
    instance = probe_class(probe_class.Settings(**settings))
    ctx = ProbeContext(model=net, data=data, device=torch.device("cpu"), batch_size=batch_size)
    with torch.no_grad():
        net(data.load(torch.arange(2))[0])  # allocator and kernel set-up, outside the probe
    gc.collect()
    before = status_mib("VmRSS") or peak_mib(False)
    reset = reset_peak()
    instance(ctx)
    print(json.dumps({"before": before, "peak": peak_mib(reset)}))


def measure_point(args: argparse.Namespace, probe: str, data_path: Path, n_images: int) -> dict[str, float]:
    settings = small_settings(probe, n_images, args.batch_size, args.quick)
    command = [sys.executable, __file__, "--worker", json.dumps({
        "probe": probe, "data_path": str(data_path), "model": args.model, "settings": settings,
        "batch_size": args.batch_size})]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{probe} at {n_images} images failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", nargs="+", default=list(PROBE_NAMES), choices=PROBE_NAMES)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    parser.add_argument("--points", type=int, nargs=2, default=[100, 1000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="tiny_cnn", help="a factory of benchmarks/factories.py or a spec")
    parser.add_argument("--quick", action="store_true", help="few cells per probe (fast; the same streaming)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(**json.loads(args.worker))
        return
    from common import write_synthetic_npz

    small, large = args.points
    print(f"model {args.model}, batch size {args.batch_size}, {'quick' if args.quick else 'full'} settings; "
          f"peak RSS during the probe in MiB (growth over the RSS before it in brackets)")
    print(f"{'probe':<22}{'size':>5}{small:>16}{large:>16}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            data_path = write_synthetic_npz(Path(folder) / f"synthetic{size}.npz", large, size)
            for probe in args.probes:
                points = [measure_point(args, probe, data_path, n) for n in (small, large)]
                ratio = points[1]["peak"] / points[0]["peak"]
                cells = [f"{p['peak']:.0f} (+{p['peak'] - p['before']:.0f})" for p in points]
                verdict = "OK" if ratio <= TARGET else "MISSED"
                print(f"{probe:<22}{size:>5}{cells[0]:>16}{cells[1]:>16}{ratio:>8.2f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
