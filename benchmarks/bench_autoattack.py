"""robaudit's minimal-perturbation curve against AutoAttack at one ε, on the same images and model.

For each norm, on the images robaudit's adversarial-spectrum probe attacks (the first n correctly
classified of its seeded order) this runs, interleaved (benchmarks/timing.py):

  * robaudit's ``standard`` and ``fast`` protocols, untargeted (as AutoAttack is): one verified
    minimal perturbation size per image, i.e. the whole robust-accuracy curve over ε; and
    ``standard`` once more with ``fold_batchnorm`` off (``standard_unfolded``: its attacks then
    take gradients through the model as given, as AutoAttack's do), to show what folding adds;
  * AutoAttack ``version='standard'`` (pyautoattack) at the standard ε (8/255 L∞, 0.5 L2) and at
    the median of robaudit's standard sizes.

and prints, per norm and ε: the time ratio robaudit whole curve / AutoAttack at that one ε (CPU
and wall; robaudit's sides take seconds where AutoAttack takes minutes, so each runs
``--robaudit-runs`` times back to back per round and counts its time per run), the robust
accuracy of each at ε (robaudit: share of images whose verified minimal size exceeds ε), and the
share of images where AutoAttack finds an adversarial smaller than robaudit's verified minimal
size for that image (robaudit's size was then not minimal).
AutoAttack standard is slow on a CPU (about 30 CPU-seconds per image): use --n-images 8 for a check.

    python benchmarks/bench_autoattack.py [--n-images 8] [--model embedded:cnn] [--norms linf l2]
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import numpy as np
import torch
from common import bench_data, bench_model
from timing import Timings, interleave
from torch import Tensor

from robaudit.models.wrapper import AuditedModel
from robaudit.probes.adversarial_spectrum import AdversarialSettings, AdversarialSpectrumProbe
from robaudit.probes.base import ProbeContext

STANDARD_EPS = {"linf": 8 / 255, "l2": 0.5}
AA_NORM = {"linf": "Linf", "l2": "L2"}
SIDES = {"standard": ("standard", True), "fast": ("fast", True), "standard_unfolded": ("standard", False)}
"""robaudit's sides: name → (protocol, fold_batchnorm)."""


def sizes(d: Tensor, norm: str) -> Tensor:
    """Perturbation sizes (n,) of d (n, C, H, W) in [0, 1] pixel units."""
    flat = d.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


def run_robaudit(ctx: ProbeContext, protocol: str, norm: str, n_images: int, fold: bool) -> dict[str, np.ndarray]:
    """Verified minimal sizes (n,) of one protocol, untargeted, and the images' indices and labels."""
    settings = AdversarialSettings(protocol=protocol, norm=norm, targeted=False, n_images=n_images,
                                   fold_batchnorm=fold)
    arrays = AdversarialSpectrumProbe(settings)(ctx).arrays
    return {"size": arrays["size"].astype(np.float64), "index": arrays["index"], "label": arrays["label"]}


def run_autoattack(model: AuditedModel, x: Tensor, y: Tensor, norm: str, eps: float, seed: int) -> np.ndarray:
    """AutoAttack standard at ``eps``: per image the size of its adversarial (inf where none)."""
    from pyautoattack import AutoAttack

    attack = AutoAttack(model, norm=AA_NORM[norm], eps=eps, version="standard", device=x.device, seed=seed)
    x_adv, _ = attack.run_standard_evaluation(x, y, batch_size=len(x))
    with torch.no_grad():
        fooled = model(x_adv).argmax(1) != y
    found = sizes(x_adv - x, norm).cpu().double().numpy()
    return np.where(fooled.cpu().numpy(), found, np.inf)


def compare_norm(ctx: ProbeContext, norm: str, args: argparse.Namespace) -> None:
    found: dict[str, Any] = {}

    def robaudit_side(side: str) -> None:
        protocol, fold = SIDES[side]
        run = run_robaudit(ctx, protocol, norm, args.n_images, fold)
        if side in found and not np.array_equal(found[side]["size"], run["size"]):  # seeded: must not happen
            print(f"  WARNING: robaudit {side} gave other sizes on a repeated run", flush=True)
        found[side] = run

    def autoattack_side(which: str) -> None:
        ref = found["standard"]  # the first round runs robaudit first: the images and the median
        x, _ = ctx.load(torch.as_tensor(ref["index"]))
        y = torch.as_tensor(ref["label"]).to(ctx.device)
        eps = STANDARD_EPS[norm] if which == "aa_standard_eps" else float(np.median(ref["size"]))
        found[which] = (eps, run_autoattack(ctx.model, x, y, norm, eps, args.seed))

    sides = {side: (lambda side=side: robaudit_side(side)) for side in SIDES}
    sides |= {w: (lambda w=w: autoattack_side(w)) for w in ("aa_standard_eps", "aa_median_eps")}
    runs = dict.fromkeys(SIDES, args.robaudit_runs)
    timings = interleave(sides, repeats=args.repeats, warmup=0, device=ctx.device, runs=runs)
    report(norm, found, timings)


def report(norm: str, found: dict[str, Any], timings: Timings) -> None:
    n = len(found["standard"]["size"])
    print(f"\n{norm}: {n} images (correctly classified), untargeted; robaudit median size "
          f"standard {np.median(found['standard']['size']):.5f}, fast {np.median(found['fast']['size']):.5f}")
    for which, label in (("aa_standard_eps", "standard ε"), ("aa_median_eps", "robaudit's median ε")):
        eps, aa_size = found[which]
        print(f"  at {label} = {eps:.5f}: AutoAttack robust accuracy {np.mean(~np.isfinite(aa_size)):.3f}")
        for side in SIDES:
            size = found[side]["size"]
            below = float(np.mean(aa_size < size * (1 - 1e-6)))
            cpu, wall = timings.ratios(side, which)
            print(f"    robaudit {side:<17}: robust accuracy {np.mean(size > eps):.3f}; AutoAttack below "
                  f"robaudit's verified minimum on {below:.3f} of images; time whole curve / AutoAttack one ε: "
                  f"CPU {cpu:.3f}, wall {wall:.3f}")
    seconds = ", ".join(f"{side} {timings.median(side):.1f}" for side in timings.samples)
    print(f"  wall seconds (median of {len(timings.samples['standard'])}): {seconds}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:cnn", help="a model spec or a factory of benchmarks/factories.py")
    parser.add_argument("--data", default="embedded", help="a dataset spec or synthetic:SIZE[:N]")
    parser.add_argument("--n-images", type=int, default=8)
    parser.add_argument("--norms", nargs="+", default=["linf", "l2"], choices=["linf", "l2"])
    parser.add_argument("--repeats", type=int, default=1, help="interleaved timing rounds (each runs every side)")
    parser.add_argument("--robaudit-runs", type=int, default=3,
                        help="robaudit's sides run this often back to back per round (their time per run is "
                        "the block's / runs), so their seconds-long samples are not one burst of load")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.robaudit_runs < 1:
        parser.error(f"--robaudit-runs must be at least 1, got {args.robaudit_runs}")
    logging.getLogger("auto-attack").setLevel(logging.WARNING)
    device = torch.device(args.device)
    data = bench_data(args.data)
    model = bench_model(args.model, device, data)
    ctx = ProbeContext(model=model, data=data, device=device, seed=args.seed, batch_size=args.batch_size)
    print(f"model {args.model}, data {args.data}, device {device}, torch threads {torch.get_num_threads()}")
    for norm in args.norms:
        compare_norm(ctx, norm, args)


if __name__ == "__main__":
    main()
