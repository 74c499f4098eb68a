"""Time one probe run on a model and dataset: wall and CPU seconds, images per second, metrics.

A figure for a machine (the GPU script runs the adversarial `paper` protocol with it), not a
ratio: compare figures only within one run of this script, or against docs/benchmarks.md's
machine. ``--set KEY=VALUE`` sets probe settings (YAML values).

    python benchmarks/bench_probe.py --probe adversarial_spectrum --model wide_resnet28_10 \
        --data synthetic:32:4000 --set protocol=paper --set n_images=100 --device cuda
"""

from __future__ import annotations

import argparse
import json

import torch
from common import add_probe_run_arguments, probe_run_context
from timing import measure

from robaudit.attacks.protocols import PROTOCOLS, Protocol
from robaudit.probes import PROBES
from robaudit.probes.base import ProbeResult

SHOWN = ("n_attacked", "size", "success_rate", "passes", "f_05", "clean_accuracy", "mean_error", "n_images")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", required=True, choices=PROBES.names())
    add_probe_run_arguments(parser)
    args = parser.parse_args()
    ctx, settings = probe_run_context(args)
    device = ctx.device
    probe_class = PROBES.get(args.probe)
    probe = probe_class(probe_class.Settings(**settings))
    result: list[ProbeResult] = []
    sample = measure(lambda: result.append(probe(ctx)), device)
    metrics = {key: value for key, value in result[0].metrics.items() if key in SHOWN}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"{args.probe} {settings} on {args.model}, {args.data} ({name}): "
          f"wall {sample.wall:.1f} s, CPU {sample.cpu:.1f} s; {json.dumps(metrics)}", flush=True)
    if hasattr(probe, "protocol"):
        print_projection(probe.protocol(device), result[0].metrics, sample.wall)


def print_projection(protocol: Protocol, metrics: dict[str, object], wall: float) -> None:
    """With fewer images or restarts than the preset's, the time projected to the preset's (the
    attack's work is linear in images, units one after another; from fewer restarts an upper
    bound, as only restart 0 runs FMN and DDN from the clean image and later restarts rerun
    Brendel–Bethge only on images whose point changed)."""
    preset = PROTOCOLS[protocol.name]
    attacked = metrics.get("n_attacked", protocol.n_images)
    n = attacked if isinstance(attacked, int) and attacked > 0 else protocol.n_images
    if (n, protocol.restarts) != (preset.n_images, preset.restarts):
        minutes = wall * preset.n_images / n * preset.restarts / protocol.restarts / 60
        bound = " at most" if protocol.restarts < preset.restarts else ""
        print(f"  projected to the {preset.name} protocol's {preset.n_images} images × {preset.restarts} restarts "
              f"(from {n} × {protocol.restarts}):{bound} {minutes:.1f} min wall", flush=True)


if __name__ == "__main__":
    main()
