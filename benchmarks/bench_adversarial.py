"""Is the `standard` protocol strong enough, and how much cheaper is it than an exhaustive search?

On the embedded default (a small CNN trained here on first use, 32×32 RGB photo patches) this
runs, on the same images and seeded targets, (a) the `standard` protocol and (b) an exhaustive
ensemble (every attack, 10 restarts, many steps), and prints two ratios measured in this run:

    size ratio  = median minimal size of standard / median of the ensemble's best (target ≤ 1.05)
    grad ratio  = gradient evaluations of standard / those of the ensemble        (target ≤ 0.2)
    time ratio  = standard's time / the ensemble's, CPU and wall (median of --repeats interleaved
                  pairs, benchmarks/timing.py; the searches are seeded, so every repeat finds
                  the same sizes)

The ensemble's per-image size is the best of the ensemble and standard (the best known bound).
Usage: python benchmarks/bench_adversarial.py [--n-images 32] [--norm linf] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace

import numpy as np
import torch
from timing import interleave

from robaudit.attacks.protocols import ATTACKS, Protocol, resolve_protocol
from robaudit.attacks.search import MinimalSearch
from robaudit.attacks.verify import CountingModel
from robaudit.embedded import load_photo_patches
from robaudit.models import load_model
from robaudit.probes.adversarial_spectrum import draw_targets, select_images
from robaudit.probes.base import ProbeContext


def exhaustive(args: argparse.Namespace) -> Protocol:
    """Every attack, ``--ensemble-restarts`` restarts, ``--ensemble-steps`` steps each."""
    return Protocol(
        name="exhaustive",
        n_images=args.n_images,
        steps=args.ensemble_steps,
        restarts=args.ensemble_restarts,
        pgd_steps=args.ensemble_pgd_steps,
        bisection_steps=12,
        attacks=ATTACKS,
        batch_size=args.n_images,
    )


@dataclass
class Measured:
    """One protocol's outcome on the benchmark images: sizes (n,), passes, winners."""

    size: np.ndarray
    forward: int
    backward: int
    winners: dict[str, int]


def measure(
    ctx: ProbeContext,
    protocol: Protocol,
    norm: str,
    x: torch.Tensor,
    y: torch.Tensor,
    t: torch.Tensor,
) -> Measured:
    counting = CountingModel(ctx.model)
    generator = ctx.generator("bench", protocol.name)
    search = MinimalSearch(counting, protocol, norm, generator, ctx.device)
    result = search.run(x, y, t)
    forward, backward = counting.counts()
    winners = {a: int((result.winner == i).sum()) for i, a in enumerate(ATTACKS)}
    return Measured(result.size.cpu().numpy(), forward, backward, winners)


def describe(m: Measured) -> dict[str, object]:
    ok = m.size[np.isfinite(m.size)]
    return {
        "median": float(np.median(ok)) if len(ok) else None,
        "success": len(ok) / len(m.size),
        "forward": m.forward,
        "backward": m.backward,
        "winners": m.winners,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-images", type=int, default=32)
    parser.add_argument("--norm", choices=["linf", "l2"], default="linf")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ensemble-steps", type=int, default=1000)
    parser.add_argument("--ensemble-restarts", type=int, default=10)
    parser.add_argument("--ensemble-pgd-steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved timing pairs (each runs both searches)")
    args = parser.parse_args()

    device = torch.device(args.device)
    model = load_model("embedded:cnn", device=device)
    data = load_photo_patches("test")
    ctx = ProbeContext(model=model, data=data, device=device, seed=args.seed)
    sel = select_images(ctx, args.n_images)
    idx, labels = torch.as_tensor(sel["indices"]), torch.as_tensor(sel["labels"])
    targets = draw_targets(ctx, idx, labels, model.info.num_classes)
    x, _ = ctx.load(idx)
    y, t = labels.to(device), targets.to(device)

    standard = replace(resolve_protocol("standard"), n_images=len(idx), batch_size=len(idx))
    found: dict[str, Measured] = {}
    protocols = {"standard": standard, "ensemble": exhaustive(args)}
    sides = {name: (lambda n=name: found.update({n: measure(ctx, protocols[n], args.norm, x, y, t)}))
             for name in protocols}
    timings = interleave(sides, repeats=args.repeats, warmup=0, device=device)
    std, ens = found["standard"], found["ensemble"]
    best = np.minimum(std.size, ens.size)
    ok = np.isfinite(best)
    size_ratio = float(np.median(std.size[ok]) / np.median(best[ok]))
    grad_ratio = std.backward / max(1, ens.backward)
    report = {
        "images": int(len(idx)),
        "norm": args.norm,
        "targeted": True,
        "standard": describe(std),
        "ensemble": describe(ens),
        "best_known_median": float(np.median(best[ok])),
        "per_image_ratio_p95": float(np.quantile(std.size[ok] / best[ok], 0.95)),
        "size_ratio": size_ratio,
        "grad_ratio": grad_ratio,
    }
    print(json.dumps(report, indent=2))
    print(f"size ratio (standard / ensemble median) = {size_ratio:.4f}  (target <= 1.05)")
    print(f"grad ratio (standard / ensemble backward passes) = {grad_ratio:.4f}  (target <= 0.2)")
    print(timings.line("standard", "ensemble", label="time ratio (standard / ensemble)"))


if __name__ == "__main__":
    main()
