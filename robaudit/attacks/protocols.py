"""Named attack protocols (presets) for the adversarial-spectrum probe, and their budget overrides.

A protocol fixes which attacks run and with what budget, so a report can say exactly how its
minimal perturbations were found. ``fast`` is for CI, ``standard`` is the default and ``paper``
follows Li et al. 2023 (1000 images, targeted L∞ Brendel–Bethge started from several seeds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from robaudit.errors import RobauditError
from robaudit.registry import suggest

NORMS = ("linf", "l2")
ATTACK_NORMS: dict[str, tuple[str, ...]] = {
    "start": ("linf", "l2"),  # the closest verified blend towards an image of the target class
    "fmn": ("linf", "l2"),
    "ddn": ("l2",),
    "pgd_bisection": ("linf", "l2"),
    "brendel_bethge": ("linf", "l2"),
}
"""Every attack of the search and the norms it supports, in the order candidates are tried (on a
tie the earlier attack keeps the win). A new attack is one row here and its factory in
:mod:`robaudit.attacks.fb_attacks`."""
ATTACKS = tuple(ATTACK_NORMS)
OWN_STEPS = {"fmn": "fmn_steps", "brendel_bethge": "bb_steps"}
"""Attacks a protocol may give their own iteration count, and the Protocol field holding it
(None there: ``steps``)."""
UNTARGETED_STEPS = {"fmn": "untargeted_fmn_steps", "ddn": "untargeted_ddn_steps",
                    "brendel_bethge": "untargeted_bb_steps"}
"""Attacks a protocol may give another iteration count for untargeted searches, and the field
holding it (None there: the attack's own count)."""
STEPPED = tuple(a for a in ATTACKS if a in OWN_STEPS or a in UNTARGETED_STEPS)
"""Attacks whose iteration count a protocol may set apart from ``steps``, in search order."""


def step_fields(attack: str, targeted: bool) -> list[str]:
    """The Protocol fields that may set ``attack``'s iterations in a targeted or untargeted
    search, first match first (none set: ``steps``)."""
    untargeted = [UNTARGETED_STEPS[attack]] if not targeted and attack in UNTARGETED_STEPS else []
    return untargeted + ([OWN_STEPS[attack]] if attack in OWN_STEPS else [])


@dataclass(frozen=True)
class Protocol:
    """An attack budget. Steps are iterations per attack run; a restart re-runs the search
    from a new seeded random start (restart 0 starts from the clean image)."""

    name: str
    n_images: int
    steps: int  # iterations of each minimum-norm attack (FMN, DDN, Brendel–Bethge)
    restarts: int
    pgd_steps: int  # PGD iterations at each ε of the bisection
    bisection_steps: int  # PGD attempts per image of the ε bisection (after any ladder)
    attacks: tuple[str, ...]
    batch_size: int = 64
    sanity_images: int = 16  # images of the first batch used by the sanity checks
    fmn_steps: int | None = None  # FMN's own iterations where fewer than ``steps`` suffice
    bb_steps: int | None = None  # Brendel–Bethge's own iterations, likewise
    untargeted_fmn_steps: int | None = None  # FMN's iterations in untargeted searches, likewise
    untargeted_ddn_steps: int | None = None  # DDN's, likewise
    untargeted_bb_steps: int | None = None  # Brendel–Bethge's, likewise
    pgd_near_first: bool = False  # PGD first tries ε just below the best size; bisects only where that succeeds
    # Images that scale Brendel–Bethge's trust region (foolbox scales it by the batch it attacks):
    # fixed per preset, so that neither the unit an image lands in (a partial last unit, a
    # GPU's larger units, --batch-size) nor the device changes that image's steps.
    region_images: int = 64
    overrides: tuple[str, ...] = field(default=())

    def steps_of(self, attack: str, targeted: bool = True) -> int:
        """Iterations of the minimum-norm ``attack`` ('fmn', 'ddn', 'brendel_bethge') in a
        targeted or an untargeted search."""
        counts = [getattr(self, f) for f in step_fields(attack, targeted) if getattr(self, f) is not None]
        return counts[0] if counts else self.steps

    def budget(self) -> str:
        """What a unit of images computes under this protocol, as text for cache keys: every
        field but the name, the image count and the override list (a preset's budget that changes
        between versions then never reuses a unit saved under the old one)."""
        skip = {"name", "n_images", "overrides"}
        return ",".join(f"{k}={v}" for k, v in asdict(self).items() if k not in skip)

    def uses(self, attack: str, norm: str) -> bool:
        """Whether ``attack`` runs under this protocol for ``norm`` (it must support the norm)."""
        return attack in self.attacks and norm in ATTACK_NORMS[attack]

    def attacks_for(self, norm: str) -> tuple[str, ...]:
        """The protocol's attacks that support ``norm``, in search order."""
        return tuple(a for a in ATTACKS if self.uses(a, norm))

    def to_json(self, norm: str | None = None) -> dict[str, Any]:
        """The protocol as JSON; with ``norm``, ``attacks`` lists only those that run for it."""
        data = asdict(self)
        data["attacks"] = list(self.attacks if norm is None else self.attacks_for(norm))
        data["overrides"] = list(self.overrides)
        return data


PROTOCOLS: dict[str, Protocol] = {
    "fast": Protocol(
        name="fast", n_images=32, steps=100, restarts=1, pgd_steps=20, bisection_steps=2,
        attacks=("start", "fmn", "pgd_bisection", "brendel_bethge"), batch_size=64, sanity_images=8,
        # Brendel–Bethge's 20 steps refine FMN's point more than DDN (L2) or the bisection's
        # steps 3–5 did; PGD at ε = best / 2 and best · 1/4 or 3/4 catches FMN's bad basins.
        # FMN keeps 100 steps targeted (the probe's default): at 40–70 it ends far from the
        # target class's boundary (90th percentile 1.3–1.6× the `standard` sizes against 1.05×).
        # Untargeted, the nearest wrong class's boundary is closer: 40 steps end where 100 do.
        # Untargeted Brendel–Bethge stops after 15 of its 20 halvings of the trust region: the
        # last five, the binding and costliest L∞ solves, took 15 % of the probe's CPU time for
        # sizes 1.2 % smaller at the 90th percentile (128 images; AutoAttack beats the same
        # images either way; docs/adversarial_spectrum.md).
        bb_steps=20, untargeted_fmn_steps=40, untargeted_bb_steps=15,
    ),
    "standard": Protocol(
        name="standard", n_images=500, steps=200, restarts=1, pgd_steps=20, bisection_steps=6,
        attacks=("start", "fmn", "ddn", "pgd_bisection", "brendel_bethge"), batch_size=64,
        # FMN (and, for L2, DDN at 200) only bring Brendel–Bethge its start: FMN at 100 steps
        # leaves the sizes where 200 do. Brendel–Bethge halves its trust region 20 times whatever
        # its step count, and at 100 steps ends 1.0003× the sizes of 200 in the median (1.002× at
        # the 90th percentile, AutoAttack beating none of 128 images either way) in half the time
        # (docs/adversarial_spectrum.md). Bisection steps 7–8 (ε within 1/64 of the bracket) moved
        # no size by more than 0.1 % at the 90th percentile, targeted or not; fewer FMN, DDN or
        # Brendel–Bethge steps cost targeted runs 2–4 % at the 90th percentile. Untargeted, DDN at
        # 120 and Brendel–Bethge at 80 end where 200 and 100 do (128 images: 90th percentile
        # +0.4 %, AutoAttack beating the same images); fewer FMN steps moved L2 sizes up to 10 %.
        # PGD first tries ε just below the best size and bisects only where it succeeds there (PGD's
        # success is close to monotone in ε): 17–25 % fewer model passes; 128 images untargeted:
        # mean size +0.04 % (L∞) and +0.06 % (L2), AutoAttack beating the same images; 64 targeted:
        # no size larger, 2 smaller per norm (docs/adversarial_spectrum.md). `fast` keeps its two
        # attempts from best / 2: that is where they catch FMN's bad basins (near first: max 1.5×).
        fmn_steps=100, bb_steps=100, untargeted_ddn_steps=120, untargeted_bb_steps=80, pgd_near_first=True,
    ),
    "paper": Protocol(
        name="paper", n_images=1000, steps=1000, restarts=5, pgd_steps=40, bisection_steps=10,
        attacks=("start", "fmn", "ddn", "pgd_bisection", "brendel_bethge"), batch_size=100,
        # PGD near the best size first, as `standard`: on 32 images (targeted, embedded CNN) every
        # size bitwise as with the plain bisection, with 18 % (L∞) and 16 % (L2) fewer model
        # passes (docs/adversarial_spectrum.md). Brendel–Bethge's trust region as for the preset's
        # batches of 100 (the paper gives no batch size).
        pgd_near_first=True, region_images=100,
    ),
}


def check_norm(norm: str) -> str:
    """Return ``norm`` if valid ('linf' or 'l2'), else raise a RobauditError listing the choices."""
    if norm not in NORMS:
        raise RobauditError(
            f"unknown norm {norm!r}.{suggest(norm, list(NORMS))} Valid: {', '.join(NORMS)}."
        )
    return norm


def resolve_protocol(
    name: str,
    *,
    n_images: int | None = None,
    steps: int | None = None,
    restarts: int | None = None,
    batch_size: int | None = None,
) -> Protocol:
    """The named preset with any budget knob given (not None) overriding it; records overrides."""
    if name not in PROTOCOLS:
        choices = sorted(PROTOCOLS)
        raise RobauditError(
            f"unknown protocol {name!r}.{suggest(name, choices)} Valid: {', '.join(choices)}."
        )
    knobs = {"n_images": n_images, "steps": steps, "restarts": restarts, "batch_size": batch_size}
    given: dict[str, Any] = {key: value for key, value in knobs.items() if value is not None}
    for key, value in given.items():
        if value < 1:
            raise RobauditError(f"--{key.replace('_', '-')} must be at least 1, got {value}")
    overrides = tuple(sorted(given))
    if steps is not None:  # --steps sets every minimum-norm attack's iterations
        given.update(dict.fromkeys([*OWN_STEPS.values(), *UNTARGETED_STEPS.values()]))
    return replace(PROTOCOLS[name], **given, overrides=overrides)
