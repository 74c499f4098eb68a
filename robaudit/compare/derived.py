"""Numbers the leaderboard derives from report cards: robust accuracy at standard budgets from the
per-image minimal perturbation sizes, and corruption error relative to a baseline model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CIFAR_MAX_SIDE = 64  # inputs up to 64×64 use the CIFAR budgets, larger ones the ImageNet budgets


@dataclass(frozen=True)
class Budget:
    """A standard perturbation budget: its column key, label, norm (linf | l2), ε and image scale."""

    key: str
    label: str
    norm: str
    epsilon: float
    scale: str  # "cifar" (≤ 64 px) or "imagenet"


BUDGETS = (
    Budget("robust_acc_linf_8_255", "robust acc. L∞ 8/255", "linf", 8 / 255, "cifar"),
    Budget("robust_acc_l2_0.5", "robust acc. L2 0.5", "l2", 0.5, "cifar"),
    Budget("robust_acc_linf_4_255", "robust acc. L∞ 4/255", "linf", 4 / 255, "imagenet"),
    Budget("robust_acc_l2_3.0", "robust acc. L2 3.0", "l2", 3.0, "imagenet"),
)


def image_scale(input_size: list[int]) -> str:
    """'cifar' for inputs whose larger side is ≤ 64 px, else 'imagenet'. input_size is [C, H, W]."""
    return "cifar" if max(input_size[1:]) <= CIFAR_MAX_SIDE else "imagenet"


def robust_accuracy(sizes: np.ndarray, epsilon: float, n_examined: int, n_skipped: int) -> float | None:
    """Accuracy under any perturbation of norm ≤ ε, from the minimal sizes of the attacked images.

    sizes (n,): minimal verified perturbation per correctly classified image (inf where none was
    found). An image is robust iff its minimal size > ε; the n_skipped misclassified images of the
    n_examined count as not robust, so the result is (correct / examined) × P(size > ε | attacked).
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if n_examined <= 0 or len(sizes) == 0:
        return None
    clean = (n_examined - n_skipped) / n_examined
    return clean * float(np.mean(sizes > epsilon))


def robust_curve(sizes: np.ndarray, epsilons: np.ndarray, n_examined: int, n_skipped: int) -> np.ndarray:
    """robust_accuracy at each ε of epsilons (k,) → (k,)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    clean = (n_examined - n_skipped) / n_examined
    return clean * np.mean(sizes[None, :] > np.asarray(epsilons)[:, None], axis=1)


def mean_corruption_error(section: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    """Hendrycks & Dietterich's mCE of a corruptions section against a baseline model's section:
    the mean over corruptions of CE_c = Σ_s err_{s,c} / Σ_s err^base_{s,c} (err = 1 − accuracy),
    computed by the same function as ``score``'s own baseline comparison."""
    from robaudit.corruptions.metrics import relative_error

    severities = [int(s) for s in section["severities"] if str(s) in _severities(baseline)]
    if not severities:
        return None
    value = relative_error(section["accuracy"], section["clean_accuracy"], baseline, severities)["mce"]
    return None if value is None else float(value)


def _severities(section: dict[str, Any]) -> set[str]:
    return {str(s) for s in section.get("severities", [])}
