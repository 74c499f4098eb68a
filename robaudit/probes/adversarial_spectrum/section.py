"""The adversarial-spectrum probe's report section (report["probes"]["adversarial_spectrum"])."""

from __future__ import annotations

from typing import Any

from robaudit.report_model import Direction, Section, metric


def _freq(unit: str, label: str, direction: Direction | None = None, column: str | None = None) -> Any:
    return metric(None, unit=unit, label=f"{label} ({unit.replace('_', ' ')})", direction=direction, ge=0.0,
                  column=column)


def _count(label: str) -> Any:
    return metric(unit="count", label=label, ge=0)


class F05Cpp(Section):
    """f_0.5 in cycles per pixel with its 95 % bootstrap interval (null without a crossing)."""

    value: float | None = _freq("cycles_per_pixel", "adversarial f_0.5", column="f05_cpp")
    ci_low: float | None = _freq("cycles_per_pixel", "f_0.5 95 % interval, low end", column="f05_ci_low")
    ci_high: float | None = _freq("cycles_per_pixel", "f_0.5 95 % interval, high end", column="f05_ci_high")


class F05Nyquist(Section):
    value: float | None = _freq("nyquist_fraction", "adversarial f_0.5")
    ci_low: float | None = _freq("nyquist_fraction", "f_0.5 95 % interval, low end")
    ci_high: float | None = _freq("nyquist_fraction", "f_0.5 95 % interval, high end")


class F05(Section):
    cycles_per_pixel: F05Cpp
    nyquist_fraction: F05Nyquist
    n_images: int = _count("images in the mean spectrum")
    reason: str | None


class SizeStats(Section):
    """Verified minimal sizes under the section's ``norm`` (median, mean, sample std; null where
    no image succeeded)."""

    median: float | None = metric(None, unit="perturbation", label="median minimal size", direction="higher",
                                  ge=0.0, column="median_size")
    mean: float | None = metric(None, unit="perturbation", label="mean minimal size", direction="higher", ge=0.0)
    std: float | None = metric(None, unit="perturbation", label="std of minimal sizes", ge=0.0)


class Size255Stats(Section):
    """The L∞ sizes again in steps of 1/255 (L∞ runs only)."""

    median: float | None = metric(None, unit="linf_255", label="median minimal size", direction="higher", ge=0.0)
    mean: float | None = metric(None, unit="linf_255", label="mean minimal size", direction="higher", ge=0.0)
    std: float | None = metric(None, unit="linf_255", label="std of minimal sizes", ge=0.0)


class Protocol(Section):
    """The attack budget the sizes were found with (protocols.Protocol plus norm and mode)."""

    name: str
    n_images: int = metric(unit="count", label="images to attack", ge=1)
    steps: int = metric(unit="count", label="steps per minimum-norm attack", ge=1)
    restarts: int = metric(unit="count", label="restarts", ge=1)
    pgd_steps: int = metric(unit="count", label="PGD steps per ε", ge=1)
    bisection_steps: int = metric(unit="count", label="ε bisection steps", ge=0)
    attacks: list[str]
    batch_size: int = metric(unit="count", label="images attacked together", ge=1)
    sanity_images: int = metric(unit="count", label="images of the sanity checks", ge=0)
    fmn_steps: int | None = metric(None, unit="count", label="FMN steps (null: steps)", ge=1)
    bb_steps: int | None = metric(None, unit="count", label="Brendel–Bethge steps (null: steps)", ge=1)
    untargeted_fmn_steps: int | None = metric(None, unit="count", label="FMN steps untargeted (null: FMN steps)",
                                              ge=1)
    untargeted_ddn_steps: int | None = metric(None, unit="count", label="DDN steps untargeted (null: steps)", ge=1)
    untargeted_bb_steps: int | None = metric(None, unit="count",
                                             label="Brendel–Bethge steps untargeted (null: Brendel–Bethge steps)", ge=1)
    pgd_near_first: bool = False  # PGD's first attempt just below the best size, bisecting only where it succeeds
    region_images: int | None = metric(None, unit="count", ge=1,
                                       label="images scaling Brendel–Bethge's trust region (null: batch size)")
    overrides: list[str]
    norm: str
    targeted: bool


class Passes(Section):
    forward: int = _count("forward image-passes of the search")
    backward: int = _count("backward image-passes of the search")
    sanity_forward: int = _count("forward image-passes of the sanity checks")
    sanity_backward: int = _count("backward image-passes of the sanity checks")
    # 0 where the attacks ran on the model as given (fold_batchnorm off, or no BatchNorm to fold).
    folded_batchnorms: int = metric(0, unit="count", label="BatchNorm layers folded into the model the attacks "
                                    "take gradients through", ge=0)


class Sanity(Section):
    """Sanity checks (true: failed, the numbers are suspect)."""

    unbounded_success_below_100: bool = metric(unit="bool", label="unbounded search below 100 %", direction="lower")
    success_not_monotone: bool = metric(unit="bool", label="success not monotone in ε", direction="lower")
    single_step_beats_iterative: bool = metric(unit="bool", label="single step beats PGD", direction="lower")
    stochastic_outputs: bool = metric(unit="bool", label="stochastic outputs", direction="lower")
    bad_gradients: bool = metric(unit="bool", label="non-finite or zero gradients", direction="lower")


class SanityDetails(Section):
    n_images: int = _count("images of the sanity checks")
    max_logit_difference: float = metric(unit="ratio", label="max |Δ logits| between two passes", ge=0.0)
    non_finite_fraction: float = metric(unit="fraction", label="images with non-finite gradients", ge=0.0, le=1.0)
    zero_fraction: float = metric(unit="fraction", label="images with zero gradients", ge=0.0, le=1.0)
    eps: list[float]
    pgd_success: list[float]
    single_step_success: list[float]


class AdversarialMetrics(Section):
    """report["probes"]["adversarial_spectrum"]: f_0.5, minimal sizes, attack bookkeeping, sanity."""

    norm: str
    targeted: bool
    protocol: Protocol
    f_05: F05
    size: SizeStats
    size_255: Size255Stats | None
    # The unbounded search's success: 1 unless the budget fell short (a sanity flag), so no direction.
    success_rate: float = metric(unit="fraction", label="verified success rate", ge=0.0, le=1.0)
    n_attacked: int = _count("images attacked")
    n_success: int = _count("images with a verified adversarial")
    n_not_reached: int = metric(unit="count", label="images the attacks did not improve within the budget",
                                direction="lower", ge=0)
    clean_accuracy: float = metric(unit="fraction", label="clean accuracy on the images examined",
                                   direction="higher", ge=0.0, le=1.0)
    n_skipped: int = _count("misclassified images skipped")
    n_examined: int = _count("images examined to find the correctly classified ones")
    winner_counts: dict[str, int]
    rejected_candidates: int = metric(unit="count", label="candidates that failed verification",
                                      direction="lower", ge=0)
    rejected_by_attack: dict[str, int]
    offered_by_attack: dict[str, int]
    aborted_runs: dict[str, int]
    passes: Passes
    sanity: Sanity
    sanity_details: SanityDetails
    suspect: bool = metric(unit="bool", label="a sanity check failed", direction="lower")
