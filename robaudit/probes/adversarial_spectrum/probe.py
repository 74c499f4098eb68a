"""Adversarial-spectrum probe: verified minimal perturbations, their spectrum, f_0.5.

For the first n correctly classified images of a seeded subset, strong attacks search for the
smallest perturbation that flips each image (to a seeded random target class by default); each
candidate is verified independently and the smallest verified one kept. The probe reports its
size statistics and where its power lies in frequency (f_0.5 with a bootstrap interval), and
runs sanity checks that mark a model's numbers as suspect (gradient masking, stochasticity).
Definitions: docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from robaudit import spectral
from robaudit.attacks.protocols import ATTACKS, NORMS, PROTOCOLS, Protocol, check_norm, resolve_protocol
from robaudit.attacks.sanity import FLAGS, run_sanity
from robaudit.attacks.search import MinimalSearch
from robaudit.attacks.summary import f05_metrics, size_stats
from robaudit.attacks.verify import CountingModel
from robaudit.config import setting
from robaudit.devices import channels_last_if_accepted, release_free_host_memory
from robaudit.errors import RobauditError
from robaudit.models.fold import fold_batchnorm
from robaudit.probes.adversarial_spectrum import render
from robaudit.probes.adversarial_spectrum.section import AdversarialMetrics
from robaudit.probes.adversarial_spectrum.selection import draw_targets, find_exemplars, select_images
from robaudit.probes.base import PROBES, Probe, ProbeContext, ProbeResult

NAME = "adversarial_spectrum"
UNIT_IMAGES = 64
"""Images attacked together on a CPU, and cached as one unit, unless ``batch_size`` is set (on a
GPU: the preset's batch size). A killed run loses at most one unit's work and resumes with
identical numbers (each unit's search depends only on its own images and seed). Larger units
attack faster, mostly in the batched Brendel–Bethge solver's per-step overhead, but resume in
coarser steps and hold more memory (at 224 px about 15 MB per image). On the embedded CNN, L∞
`standard`: units of 8 took about twice the CPU time of units of 48; units of 64 took 0.89 and
0.91 of the CPU time of units of 32 on 128 images, with equal sizes (a unit of 64 is about a
CPU-minute there)."""


@dataclass
class AdversarialSettings:
    """The attack protocol (a named preset), the norm, and budget knobs (None: the preset's)."""

    protocol: str = setting("standard", help="attack preset: fast (CI), standard, paper (Li et al. 2023)",
                            flag="protocol", choices=tuple(PROTOCOLS))
    norm: str = setting("linf", help="perturbation norm", flag="norm", choices=NORMS)
    targeted: bool = setting(True, help="targeted search towards a seeded random wrong class "
                             "(--no-targeted: any wrong class)", flag="targeted")
    n_images: int | None = setting(None, help="correctly classified images to attack (default: the preset's)",
                                   flag="n-images", minimum=1)
    steps: int | None = setting(None, help="iterations per minimum-norm attack (default: the preset's)",
                                flag="steps", minimum=1)
    restarts: int | None = setting(None, help="search restarts (default: the preset's)", flag="restarts",
                                   minimum=1)
    batch_size: int | None = setting(None, help="images attacked together and cached as one unit (default: "
                                     "the preset's, at most 64 on a CPU, so a kill loses at most 64 images' work)",
                                     minimum=1)
    bootstrap: int = setting(1000, help="bootstrap resamples of the f_0.5 interval (0: no interval)",
                             minimum=0)
    fold_batchnorm: bool = setting(True, help="attacks take gradients through a copy of the model with eval-mode "
                                   "BatchNorm folded into the layer before it (the same function up to float "
                                   "rounding, a cheaper pass); candidates are verified on the model as given")


def reached(size: Tensor, winner: Tensor) -> Tensor:
    """(N,) bool: a verified perturbation found by an attack, not just the starting blend."""
    return torch.isfinite(size) & (winner != ATTACKS.index("start"))


def bookkeeping(units: list[dict[str, Any]], winner: np.ndarray, used: list[str]) -> dict[str, Any]:
    """Winner counts, offered/rejected candidates per attack and passes, summed over batches."""
    offered = {a: sum(int(u["offered"][a]) for u in units) for a in used}
    rejected = {a: sum(int(u["rejected"][a]) for u in units) for a in used}
    aborted = {a: sum(int(u["aborted"][a]) for u in units) for a in used}
    return {
        "winner_counts": {a: int((winner == ATTACKS.index(a)).sum()) for a in used},
        "rejected_candidates": sum(rejected.values()),
        "rejected_by_attack": rejected, "offered_by_attack": offered, "aborted_runs": aborted,
        "passes": {"forward": sum(int(u["forward"]) for u in units),
                   "backward": sum(int(u["backward"]) for u in units),
                   "folded_batchnorms": max(int(u.get("folded_batchnorms", 0)) for u in units)},
    }


@dataclass
class Batch:
    """One unit of work: its number, data indices (n,), labels (n,), targets (n,) or None, and
    per image the data index of its starting exemplar (n,), −1 where there is none."""

    number: int
    indices: Tensor
    labels: Tensor
    targets: Tensor | None
    exemplars: Tensor


@PROBES.register(NAME)
class AdversarialSpectrumProbe(Probe):
    name = NAME
    Settings = AdversarialSettings
    Metrics = AdversarialMetrics
    renderer: ClassVar[Any] = render
    settings: AdversarialSettings

    def protocol(self, device: torch.device | None = None) -> Protocol:
        """The preset with the settings' overrides. Unless ``batch_size`` is given, attack batches
        are the preset's on a GPU (where a unit's time follows its tensor operations, not its
        images: units of 48 took half the time of units of 32 and 16 on an H200) and at most
        UNIT_IMAGES elsewhere."""
        s = self.settings
        check_norm(s.norm)
        protocol = resolve_protocol(s.protocol, n_images=s.n_images, steps=s.steps,
                                    restarts=s.restarts, batch_size=s.batch_size)
        if s.batch_size is None and (device is None or device.type != "cuda"):
            protocol = dataclasses.replace(protocol, batch_size=min(protocol.batch_size, UNIT_IMAGES))
        return protocol

    def run(self, ctx: ProbeContext) -> ProbeResult:
        protocol = self.protocol(ctx.device)
        if protocol.batch_size > ctx.batch_size:  # no model call sees more than --batch-size images
            protocol = dataclasses.replace(protocol, batch_size=ctx.batch_size)
        k = ctx.model.info.num_classes
        if k < 2:
            raise RobauditError("the adversarial-spectrum probe needs a model with ≥ 2 classes")
        sel = ctx.cache.get_or_compute(f"select/n={protocol.n_images}",
                                       partial(select_images, ctx, protocol.n_images))
        indices = torch.as_tensor(sel["indices"]).long()
        labels = torch.as_tensor(sel["labels"]).long()
        if len(labels) == 0:
            raise RobauditError("no correctly classified images to attack; check model and data")
        if int(labels.max()) >= k:
            raise RobauditError(
                f"dataset labels go up to {int(labels.max())} but the model has {k} classes")
        # Untargeted searches start towards the seeded wrong class too (any wrong class will do).
        start_classes = draw_targets(ctx, indices, labels, k)
        targets = start_classes if self.settings.targeted else None
        exemplars = self._exemplars(ctx, start_classes)
        # Folded on the first unit that is computed: a rerun whose units are all cached skips it.
        attack_model = cache(partial(self._attack_model, ctx, indices))
        units: list[dict[str, Any]] = []
        sanity: dict[str, Any] | None = None
        step, m = protocol.batch_size, min(protocol.sanity_images, len(indices), protocol.batch_size)
        starts = range(0, len(indices), step)
        budget = protocol.budget()  # in every unit's key: units of another budget are not reused
        for b, start in enumerate(ctx.track(starts, "adversarial search", len(starts))):
            sl = slice(start, start + step)
            batch = Batch(b, indices[sl], labels[sl], None if targets is None else targets[sl], exemplars[sl])
            units.append(ctx.cache.get_or_compute(
                f"batch={b}/start={start}/{budget}", partial(self._attack_batch, ctx, protocol, batch, attack_model)))
            release_free_host_memory()  # the attack's scratch, so peak memory does not grow per unit
            if sanity is None and start + step >= m:  # the first m images are done
                head = Batch(0, indices[:m], labels[:m], None if targets is None else targets[:m], exemplars[:m])
                sanity = ctx.cache.get_or_compute(f"sanity/m={m}/{budget}",
                                                  partial(self._sanity, ctx, protocol, head, units))
        assert sanity is not None  # at least one unit ran
        return self._summarise(ctx, protocol, sel, targets, units, sanity)

    def _attack_model(self, ctx: ProbeContext, indices: Tensor) -> tuple[nn.Module, int]:
        """The model the attacks take gradients through and how many BatchNorm layers it folds:
        with ``fold_batchnorm``, ctx.model folded (:func:`fold_batchnorm`, checked on a few of the
        attacked images), else ctx.model itself."""
        if not self.settings.fold_batchnorm:
            return ctx.model, 0
        sample, _ = ctx.load(indices[:4])
        return fold_batchnorm(ctx.model, sample)

    def _exemplars(self, ctx: ProbeContext, start_classes: Tensor) -> Tensor:
        """Per attacked image, the data index of an image the model assigns to its start class."""
        unit = ctx.cache.get_or_compute(f"exemplars/classes={sorted(set(start_classes.tolist()))}",
                                        partial(find_exemplars, ctx, start_classes))
        lookup = dict(zip(np.asarray(unit["classes"]).tolist(), np.asarray(unit["index"]).tolist(), strict=True))
        return torch.tensor([lookup[c] for c in start_classes.tolist()], dtype=torch.long)

    def _attack_batch(self, ctx: ProbeContext, protocol: Protocol, batch: Batch,
                      attack_model: Callable[[], tuple[nn.Module, int]]) -> dict[str, Any]:
        """Search one batch; keep per-image sizes/winners and the spectra, not the images.
        ``attack_model()``: the model the attacks take gradients through, and its folded count."""
        model, folded = attack_model()
        x, _ = ctx.load(batch.indices)
        x = channels_last_if_accepted(ctx.model, x)
        dev = ctx.device
        counting = CountingModel(ctx.model)  # verifies every candidate
        attacking = counting if model is ctx.model else CountingModel(model)
        search = MinimalSearch(counting, protocol, self.settings.norm,
                               ctx.generator("adversarial", "search", batch.number), dev, attacking)
        targets = None if batch.targets is None else batch.targets.to(dev)
        has = batch.exemplars >= 0
        starts, _ = ctx.load(torch.where(has, batch.exemplars, batch.indices))
        res = search.run(x, batch.labels.to(dev), targets, (starts, has.to(dev)))
        d = (res.x_adv - x)[reached(res.size, res.winner).to(x.device)]
        h, w = x.shape[-2:]
        if len(d):
            power_sum = spectral.power_spectrum(d).double() * len(d)
            _, sums = spectral.radial_sums(spectral.power_spectra(d))
        else:
            power_sum = torch.zeros(h, w, dtype=torch.float64)
            _, sums = spectral.radial_sums(torch.zeros(0, h, w))
        counted = [counting] if attacking is counting else [counting, attacking]
        forward, backward = (sum(c) for c in zip(*(m.counts() for m in counted), strict=True))
        return {
            "size": res.size.cpu().numpy(), "winner": res.winner.cpu().numpy(),
            "radial_sums": sums.cpu().numpy(), "power_sum": power_sum.cpu().numpy(),
            "offered": res.offered, "rejected": res.rejected, "aborted": res.aborted,
            "forward": forward, "backward": backward, "folded_batchnorms": folded,
        }

    def _sanity(self, ctx: ProbeContext, protocol: Protocol, head: Batch,
                units: list[dict[str, Any]]) -> dict[str, Any]:
        """The sanity checks on the first ``sanity_images`` attacked images (``head``), around the
        median of their verified sizes (from the attack units that cover them)."""
        m = len(head.indices)
        x, _ = ctx.load(head.indices)
        x = channels_last_if_accepted(ctx.model, x)
        sizes = np.concatenate([np.asarray(u["size"], dtype=np.float64) for u in units])[:m]
        winners = np.concatenate([np.asarray(u["winner"]) for u in units])[:m]
        finite = sizes[reached(torch.from_numpy(sizes), torch.from_numpy(winners)).numpy()]
        median = float(np.median(finite)) if len(finite) else float("inf")
        counting = CountingModel(ctx.model)
        dev = ctx.device
        targets = None if head.targets is None else head.targets.to(dev)
        out = run_sanity(counting, x, head.labels.to(dev), targets, self.settings.norm,
                         median, protocol.pgd_steps, ctx.generator("adversarial", "sanity"), ctx.batch_size)
        out["forward"], out["backward"] = counting.counts()
        return out

    def _summarise(self, ctx: ProbeContext, protocol: Protocol, sel: dict[str, Any],
                   targets: Tensor | None, units: list[dict[str, Any]],
                   sanity: dict[str, Any]) -> ProbeResult:
        norm = self.settings.norm
        size = np.concatenate([np.asarray(u["size"], dtype=np.float64) for u in units])
        winner = np.concatenate([np.asarray(u["winner"]) for u in units]).astype(np.int8)
        sums = torch.from_numpy(np.concatenate([np.asarray(u["radial_sums"]) for u in units]))
        n_ok = int(np.isfinite(size).sum())
        ok = reached(torch.from_numpy(size), torch.from_numpy(winner)).numpy()
        n_reached = int(ok.sum())
        power = np.sum([np.asarray(u["power_sum"], dtype=np.float64) for u in units], axis=0)
        power = power / max(1, n_reached)
        f05, radii, cumulative = f05_metrics(torch.from_numpy(power), sums, self.settings.bootstrap,
                                             ctx.generator("adversarial", "bootstrap"))
        success_rate = n_ok / len(size)
        flags = dict(sanity["flags"], unbounded_success_below_100=success_rate < 1.0)
        flags = {name: bool(flags[name]) for name in FLAGS}
        reason = None if f05["cycles_per_pixel"]["value"] is not None else (
            "no verified perturbation with non-zero power")
        metrics = {
            "norm": norm, "targeted": self.settings.targeted,
            "protocol": protocol.to_json(norm) | {"norm": norm, "targeted": self.settings.targeted},
            "f_05": f05 | {"n_images": n_reached, "reason": reason},
            **size_stats(np.where(ok, size, np.inf), norm),
            "success_rate": success_rate, "n_attacked": len(size), "n_success": n_ok,
            "n_not_reached": n_ok - n_reached,
            "clean_accuracy": 1 - int(sel["skipped"]) / max(1, int(sel["examined"])),
            "n_skipped": int(sel["skipped"]), "n_examined": int(sel["examined"]),
            **bookkeeping(units, winner, list(protocol.attacks_for(norm))),
            "sanity": flags, "sanity_details": sanity["details"], "suspect": any(flags.values()),
        }
        metrics["passes"] |= {"sanity_forward": int(sanity["forward"]),
                              "sanity_backward": int(sanity["backward"])}
        arrays = {
            "index": np.asarray(sel["indices"], dtype=np.int64),
            "label": np.asarray(sel["labels"], dtype=np.int64),
            "target": np.full(len(size), -1, dtype=np.int64) if targets is None
            else targets.numpy().astype(np.int64),
            "size": size.astype(np.float32), "winner": winner, "winner_names": np.array(ATTACKS),
            "power_spectrum": power.astype(np.float32),
            "radii_cpp": radii.numpy(), "cumulative": cumulative.numpy(),
        }
        notes = [f"sanity check failed: {name}; sizes and f_0.5 are suspect"
                 for name, on in flags.items() if on]
        if n_ok > n_reached:
            notes.append(f"budget shortfall: the attacks did not improve on the starting blend for "
                         f"{n_ok - n_reached} of {len(size)} images; sizes and f_0.5 use the other "
                         f"{n_reached} (a larger --steps or --restarts reaches more)")
        return ProbeResult(self.name, self.settings_json(), metrics, arrays, notes)

