"""Batched search for the smallest verified adversarial perturbation of each image.

Every image first gets a verified starting point: the closest point on the segment from the image
to an image the model assigns to the target class (``start``; where the data hold none, to the end
of an unbounded gradient walk that reaches it), so an unbounded search succeeds on every image
where the class can be reached at all. Candidates then come from foolbox's minimum-norm attacks
(FMN; DDN for L2), the batched torch Brendel–Bethge started from the best verified point
(:mod:`robaudit.attacks.bb_torch`; a restart reruns it only where that point changed), and PGD
with a per-image bisection over ε, with restarts. Every candidate is verified independently
(:mod:`robaudit.attacks.verify`) and, per image, the smallest verified one is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import eagerpy as ep
import foolbox as fb
import torch
from torch import Tensor, nn

from robaudit.attacks.fb_attacks import min_norm_attack, pgd_attack
from robaudit.attacks.protocols import ATTACKS, Protocol
from robaudit.attacks.starts import reach_criterion
from robaudit.attacks.verify import Verdict, offer_grown, verify, worst_size

BLEND_STEPS = 10
"""Bisection steps of the starting blend (t to within 2⁻¹⁰)."""


@dataclass
class SearchResult:
    """Per image (N,): the best verified x_adv (x where none), its size (inf where none), the
    index into ATTACKS of the attack that found it (−1 where none); per attack, how many
    candidates it offered, how many failed verification, and how many runs foolbox aborted."""

    x_adv: Tensor
    size: Tensor
    winner: Tensor
    offered: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    aborted: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def seeded(generator: torch.Generator, device: torch.device) -> Iterator[None]:
    """Run foolbox (which draws from torch's global RNG) under a seed taken from ``generator``,
    leaving the global RNG state as it was (the project's rule: no global randomness leaks)."""
    devices: list[int] = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class MinimalSearch:
    """Finds minimal verified perturbations of a batch under ``protocol``.

    model: a (counting) module taking (N, C, H, W) in [0, 1] to logits, in eval mode, on which
    every candidate is verified; ``attack_model``: the same function (e.g. with BatchNorm folded,
    :mod:`robaudit.models.fold`) through which the attacks take their gradients (default: model).
    """

    def __init__(
        self,
        model: nn.Module,
        protocol: Protocol,
        norm: str,
        generator: torch.Generator,
        device: torch.device,
        attack_model: nn.Module | None = None,
    ) -> None:
        self.model = model
        self.protocol = protocol
        self.norm = norm
        self.generator = generator
        self.device = device
        self.attack_model = model if attack_model is None else attack_model
        self.fmodel = fb.PyTorchModel(self.attack_model, bounds=(0, 1), device=device)

    def run(self, x: Tensor, labels: Tensor, targets: Tensor | None,
            starts: tuple[Tensor, Tensor] | None = None) -> SearchResult:
        """x (N, C, H, W) in [0, 1], labels (N,), targets (N,) or None for untargeted; ``starts``:
        (exemplars (N, C, H, W), has (N,) bool), per image an image the model classifies as the
        target (untargeted: as some wrong class), where ``has``."""
        self._start(x, labels, targets)
        p = self.protocol
        if starts is not None and p.uses("start", self.norm):
            self._blend_start(*starts)
        for restart in range(p.restarts):
            fmn_missed = torch.ones(len(x), dtype=torch.bool, device=x.device)
            if restart == 0:
                if p.uses("fmn", self.norm):
                    fmn_missed = ~self._min_norm("fmn", start=None)
                if p.uses("ddn", self.norm):
                    self._min_norm("ddn", start=None)
            if p.uses("pgd_bisection", self.norm):
                found = self._pgd_bisection(random_start=restart > 0)
                # FMN again from this restart's PGD points: a new start for restarts, and a
                # rescue where FMN from the clean image failed (it can stall on the boundary).
                if p.uses("fmn", self.norm):
                    self._min_norm("fmn", start=found, only=fmn_missed)
            if p.uses("brendel_bethge", self.norm):
                self._brendel_bethge()
        return SearchResult(
            self.best_adv, self.best_size, self.winner, self.offered, self.rejected, self.aborted
        )

    # -- bookkeeping ---------------------------------------------------------------------------

    def _start(self, x: Tensor, labels: Tensor, targets: Tensor | None) -> None:
        self.x, self.labels, self.targets = x, labels, targets
        n = len(x)
        self.best_adv = x.clone()
        self.best_size = torch.full((n,), float("inf"), dtype=torch.float64, device=x.device)
        self.winner = torch.full((n,), -1, dtype=torch.long, device=x.device)
        self.offered = dict.fromkeys(ATTACKS, 0)
        self.rejected = dict.fromkeys(ATTACKS, 0)
        self.aborted = dict.fromkeys(ATTACKS, 0)
        self.bb_started: Tensor | None = None  # (N, C, H, W): where Brendel–Bethge last started

    def _criterion(self, idx: Tensor) -> fb.criteria.Criterion:
        if self.targets is None:
            return fb.criteria.Misclassification(self.labels[idx])
        return fb.criteria.TargetedMisclassification(self.targets[idx])

    def offer(self, attack: str, idx: Tensor, x_adv: Tensor, count: bool = True) -> Verdict:
        """Verify candidates x_adv for images ``idx``; keep those smaller than the best so far.

        A candidate equal to the clean image (the attack found nothing) is not counted.
        Returns the verification verdict of the candidates.
        """
        tgt = None if self.targets is None else self.targets[idx]
        verdict = verify(self.model, self.x[idx], x_adv, self.labels[idx], tgt, self.norm)
        if count:
            moved = (x_adv != self.x[idx]).flatten(1).any(dim=1)
            self.offered[attack] += int(moved.sum())
            self.rejected[attack] += int((moved & ~verdict.ok).sum())
        better = verdict.size < self.best_size[idx]
        chosen = idx[better]
        self.best_adv[chosen] = x_adv[better]
        self.best_size[chosen] = verdict.size[better]
        self.winner[chosen] = ATTACKS.index(attack)
        return verdict

    # -- attacks -------------------------------------------------------------------------------

    def _min_norm(self, name: str, start: Tensor | None, only: Tensor | None = None) -> Tensor:
        """Run a foolbox minimum-norm attack on the images selected by ``only`` (N,) bool (all
        by default); with ``start``, only where the start verifies (foolbox asserts starting
        points are adversarial: on the model the attack runs on). Returns (N,) bool: where the
        attack's output verified."""
        n = len(self.x)
        keep = torch.ones(n, dtype=torch.bool, device=self.x.device)
        if only is not None:
            keep &= only
        kwargs: dict[str, Any] = {}
        if start is not None:
            keep &= verify(self.attack_model, self.x, start, self.labels, self.targets, self.norm).ok
            kwargs["starting_points"] = ep.astensor(start[keep])
        idx = torch.nonzero(keep).flatten()
        verified = torch.zeros(n, dtype=torch.bool, device=self.x.device)
        if len(idx) == 0:
            return verified
        steps = self.protocol.steps_of(name, targeted=self.targets is not None)
        attack = min_norm_attack(name, self.norm, steps, self.x[0].numel(), self.protocol.region_images)
        # An attack that draws no random numbers takes no seed, so the seeds of those that do
        # do not depend on whether it ran (it skips images whose start it has seen).
        rng = seeded(self.generator, self.device) if getattr(attack, "uses_rng", True) else contextlib.nullcontext()
        try:
            with rng:
                x_adv = attack.run(self.fmodel, self.x[idx], self._criterion(idx), **kwargs)
        except AssertionError:
            # foolbox asserts its starting points are adversarial; a stochastic model can
            # disagree with our verification on a second look. Skip the attack, but say so.
            self.aborted[name] += 1
            return verified
        x_adv = x_adv.detach()
        verdict = self.offer(name, idx, x_adv)
        grown = offer_grown(lambda rows, cand: self.offer(name, idx[rows], cand, count=False),
                            self.x[idx], x_adv, verdict)
        verified[idx] = verdict.ok | grown
        return verified

    def _brendel_bethge(self) -> None:
        """Brendel–Bethge from each image's best point, where that point is new. The attack draws
        no random numbers and scales its trust region by the protocol's ``region_images``, not by
        the rows it runs on, so from the point it last started at it would retrace its steps to
        the candidate it offered then."""
        new = torch.ones(len(self.x), dtype=torch.bool, device=self.x.device)
        if self.bb_started is not None:
            new = (self.best_adv != self.bb_started).flatten(1).any(dim=1)
        self.bb_started = self.best_adv.clone()
        self._min_norm("brendel_bethge", start=self.best_adv, only=new)

    def _blend_start(self, exemplars: Tensor, has: Tensor) -> None:
        """Bisect t ∈ (0, 1] so that x + t (e − x) meets the criterion (t = 1 does: e is of the
        target class), and offer the smallest verified blend (inside the box: a convex combination).
        Images without an exemplar blend towards the end of an unbounded gradient walk instead
        (:func:`~robaudit.attacks.starts.reach_criterion`), where it meets the criterion."""
        lack = torch.nonzero(~has).flatten()
        if len(lack):
            tgt = None if self.targets is None else self.targets[lack]
            walked, met = reach_criterion(self.model, self.x[lack], self.labels[lack], tgt)
            exemplars, has = exemplars.clone(), has.clone()
            exemplars[lack[met]] = walked[met]
            has[lack[met]] = True
        idx = torch.nonzero(has).flatten()
        if len(idx) == 0:
            return
        x, direction = self.x[idx], exemplars[idx] - self.x[idx]
        tgt = None if self.targets is None else self.targets[idx]
        lo = torch.zeros(len(idx), device=x.device)
        hi = torch.ones(len(idx), device=x.device)
        for _ in range(BLEND_STEPS):
            mid = (lo + hi) / 2
            ok = verify(self.model, x, x + mid.view(-1, 1, 1, 1) * direction, self.labels[idx], tgt, self.norm).ok
            hi, lo = torch.where(ok, mid, hi), torch.where(ok, lo, mid)
        self.offer("start", idx, x + hi.view(-1, 1, 1, 1) * direction)

    def _pgd_bisection(self, random_start: bool) -> Tensor:
        """Bisect ε per image with PGD; returns this restart's smallest verified points (x where
        none). Brackets start at [0, best so far], or come from :meth:`_ladder` where no
        candidate exists yet. With ``protocol.pgd_near_first`` the first attempt is at the top of
        the bracket, (1 − 2⁻ᵇ) · hi for b bisection steps: where it fails, the bracket is as
        narrow as b halvings would leave it and the image is done (PGD's success is close to
        monotone in ε); where it succeeds, the other b − 1 halve [lo, found]."""
        p = self.protocol
        attack = pgd_attack(self.norm, p.pgd_steps, random_start)
        all_idx = torch.arange(len(self.x), device=self.x.device)
        found = self.x.clone()
        found_size = torch.full_like(self.best_size, float("inf"))
        lo = torch.zeros_like(self.best_size)
        hi = self.best_size.clone()

        def attempt(idx: Tensor, eps: Tensor) -> Tensor:
            """PGD at ε (len(idx),) per image, narrowing each bracket: hi to the verified size
            where PGD succeeded (at most ε: it stops at its first adversarial iterate), lo to ε
            where it failed. Returns (len(idx),) bool: where it succeeded."""
            eps_ = ep.astensor(eps.float().view(-1, 1, 1, 1))
            with seeded(self.generator, self.device):
                x_adv = attack.run(  # per-image ε: see fb_attacks.LinfPerImagePGD
                    self.fmodel, self.x[idx], self._criterion(idx), epsilon=eps_  # type: ignore[arg-type]
                )
            x_adv = x_adv.detach()
            verdict = self.offer("pgd_bisection", idx, x_adv, count=False)
            size = verdict.size
            win = size < found_size[idx]
            found[idx[win]] = x_adv[win]
            found_size[idx[win]] = size[win]
            ok = torch.isfinite(size)
            hi[idx[ok]] = torch.minimum(eps[ok], size[ok])
            lo[idx[~ok]] = eps[~ok]
            return ok

        self._ladder(attempt, hi)
        active = all_idx[torch.isfinite(hi)]
        halvings = p.bisection_steps
        if p.pgd_near_first and halvings > 0 and len(active):
            active = active[attempt(active, hi[active] * (1 - 2.0**-halvings))]
            halvings -= 1
        for _ in range(halvings):
            if len(active) == 0:
                break
            attempt(active, (lo[active] + hi[active]) / 2)
        self.offered["pgd_bisection"] += int(torch.isfinite(found_size).sum())
        return found

    def _ladder(self, attempt: Callable[[Tensor, Tensor], Tensor], hi: Tensor) -> None:
        """For images without a candidate (hi = inf): PGD ``attempt`` (which narrows the
        brackets) at ε doubling from the batch's median size (or a default) up to the box's
        worst size, until one succeeds.
        (Fixed-ε PGD with few steps fails more often at very large ε than at moderate ε.)"""
        all_idx = torch.arange(len(self.x), device=self.x.device)
        found = torch.isfinite(hi)
        active = all_idx[~found]
        if len(active) == 0:
            return
        default = 1 / 255 if self.norm == "linf" else 0.1
        base = float(hi[found].median()) if bool(found.any()) else default
        worst = worst_size(self.x, self.norm)
        eps = torch.full_like(hi, max(base, 1e-6))
        while len(active):
            eps[active] = torch.minimum(eps[active], worst[active])
            ok = attempt(active, eps[active])
            at_worst = eps[active] >= worst[active]
            active = active[~ok & ~at_worst]
            eps[active] *= 2
