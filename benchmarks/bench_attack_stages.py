"""Where the adversarial search spends its time: wall seconds per stage, and the model's own cost.

Runs the adversarial-spectrum probe once and times (wall, device synchronised) each stage of the
minimal search: the blend start, each minimum-norm attack (FMN, DDN, Brendel–Bethge), the PGD
bisection and the sanity checks. Then times one model pass as the attacks make it (forward and
gradient with respect to the input, at the attack's batch size) in float32, TF32 and bfloat16
autocast, so ``passes × time per pass`` says how much of the attack is model arithmetic and how
much is the attacks' own work (solver, bookkeeping, kernel launches). ``--pass-units`` also times
a pass at other unit sizes, per image: what larger attack units would save in model arithmetic
on a GPU (one unit's pass count is fixed by the protocol, so its arithmetic floor is
passes per image × images × seconds per image-pass). A diagnostic for one machine, not a ratio
between two sides.

    python benchmarks/bench_attack_stages.py --model wide_resnet28_10 --data synthetic:32:4000 \
        --set protocol=paper --set n_images=100 --set batch_size=100 --set steps=100 --device cuda \
        --pass-units 100 250 500 1000
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch
from common import add_probe_run_arguments, probe_run_context
from timing import measure

from robaudit.attacks import search
from robaudit.models.wrapper import AuditedModel
from robaudit.probes.adversarial_spectrum import AdversarialSettings, AdversarialSpectrumProbe
from robaudit.probes.adversarial_spectrum import probe as probe_module

STAGES: tuple[tuple[Any, str], ...] = ((search.MinimalSearch, "_blend_start"), (search.MinimalSearch, "_min_norm"),
                                       (search.MinimalSearch, "_pgd_bisection"),
                                       (probe_module.AdversarialSpectrumProbe, "_sanity"))


def time_stages(device: torch.device, seconds: dict[str, float]) -> None:
    """Wrap each stage so its wall seconds add up in ``seconds`` (the minimum-norm attacks by name)."""
    for owner, name in STAGES:
        method = getattr(owner, name)

        @functools.wraps(method)
        def timed(self: Any, *args: Any, __method: Callable[..., Any] = method, __name: str = name,
                  **kwargs: Any) -> Any:
            out: list[Any] = []
            sample = measure(lambda: out.append(__method(self, *args, **kwargs)), device)
            seconds[args[0] if __name == "_min_norm" else __name.strip("_")] += sample.wall
            return out[0]

        setattr(owner, name, timed)


@contextlib.contextmanager
def precision(mode: str, device: torch.device) -> Iterator[None]:
    """float32 (no TF32), tf32 (TF32 matrix products and convolutions) or bf16 (autocast)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def pass_seconds(model: AuditedModel, batch: int, device: torch.device, mode: str, repeats: int = 10) -> float:
    """Wall seconds of one forward + input-gradient pass on ``batch`` images (after 3 warm-ups)."""
    x = torch.rand(batch, *model.info.input_size, device=device)
    times = []
    with precision(mode, device):
        for i in range(repeats + 3):
            sample = measure(lambda: model(x.clone().requires_grad_(True)).float().logsumexp(1).sum().backward(),
                             device)
            if i >= 3:
                times.append(sample.wall)
    return sorted(times)[len(times) // 2]


def print_pass_units(model: AuditedModel, units: list[int], modes: tuple[str, ...], device: torch.device) -> None:
    """Per unit size and precision, the wall time of one pass and its share per image."""
    for unit in units:
        for mode in modes:
            try:
                each = pass_seconds(model, unit, device, mode)
            except torch.OutOfMemoryError:
                print(f"  unit of {unit} images, {mode:<7}: out of memory; larger units skipped", flush=True)
                torch.cuda.empty_cache()
                return
            print(f"  unit of {unit:>5} images, {mode:<7}: {each * 1e3:8.2f} ms per pass, "
                  f"{each / unit * 1e6:7.1f} µs per image-pass", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_probe_run_arguments(parser)
    parser.add_argument("--pass-units", type=int, nargs="*", default=[],
                        help="also time one pass at these unit sizes (images), per image")
    args = parser.parse_args()
    ctx, settings = probe_run_context(args)
    device, model = ctx.device, ctx.model
    probe = AdversarialSpectrumProbe(AdversarialSettings(**settings))
    seconds: dict[str, float] = collections.defaultdict(float)
    time_stages(device, seconds)
    results: list[Any] = []
    total = measure(lambda: results.append(probe(ctx)), device).wall
    metrics = results[0].metrics
    unit = min(probe.protocol(device).batch_size, ctx.batch_size, int(metrics["n_attacked"]))  # images per attack batch
    passes = metrics["passes"]["backward"] / unit  # gradient passes, in batches of the attack unit
    print(f"{args.model} {args.data} {settings} on {device}: "
          f"{total:.1f} s wall ({total / int(metrics['n_attacked']) * 1e3:.1f} ms per image), "
          f"{metrics['passes']['forward']} forward / {metrics['passes']['backward']} "
          f"backward image-passes (≈ {passes:.0f} gradient passes of {unit} images)")
    for stage, value in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {stage:<16} {value:7.1f} s  {value / total:6.1%}")
    modes = ("float32", "tf32", "bf16") if device.type == "cuda" else ("float32",)
    for mode in modes:
        each = pass_seconds(model, unit, device, mode)
        print(f"  one pass of {unit} images, {mode:<7}: {each * 1e3:8.2f} ms; × {passes:.0f} passes = "
              f"{each * passes:7.1f} s ({each * passes / total:6.1%} of the run)", flush=True)
    print_pass_units(model, args.pass_units, modes, device)


if __name__ == "__main__":
    main()
