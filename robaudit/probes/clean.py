"""Is a model informative on the images a probe used? Clean accuracy against chance, and constancy.

A probe refuses a verdict on a model that is at chance or predicts one class: its curves then
measure nothing about frequency (docs/hybrid.md, "No verdict on an uninformative model").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.01
"""Significance level of the one-sided binomial test against chance accuracy."""


def binomial_tail(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p), summed in log space (scipy is a test-only
    dependency here; the tests compare with scipy.stats.binom.sf)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_terms = [math.lgamma(trials + 1) - math.lgamma(k + 1) - math.lgamma(trials - k + 1)
                 + k * log_p + (trials - k) * log_q for k in range(successes, trials + 1)]
    top = max(log_terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in log_terms))


@dataclass(frozen=True)
class CleanCheck:
    """Clean accuracy of a model on n images, the chance level and the share of its most
    frequent prediction; ``refusal`` is None for an informative model, else the reason."""

    accuracy: float
    n_images: int
    chance: float
    majority_share: float
    refusal: str | None


def check_clean(correct: int, n_images: int, chance: float, majority_share: float) -> CleanCheck:
    """Refuse when the model predicts one class for every image, or when its accuracy is not
    above ``chance`` by a one-sided binomial test at level :data:`ALPHA`."""
    accuracy = correct / n_images if n_images else 0.0
    refusal = None
    if n_images and majority_share >= 1.0:
        refusal = (f"the model predicts one class for all {n_images} clean images it was shown; "
                   "a constant model has no frequency preference")
    elif binomial_tail(correct, n_images, chance) > ALPHA:
        refusal = (f"the model is at chance on the clean images it was shown (accuracy {accuracy:.3f} "
                   f"on {n_images} images, chance {chance:.3f}); no verdict on a model that has not "
                   "learnt the task")
    return CleanCheck(accuracy, n_images, chance, majority_share, refusal)
