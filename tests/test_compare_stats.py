"""Spearman's ρ and its bootstrap interval against scipy; robust accuracy from minimal sizes by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from robaudit.compare.derived import robust_accuracy, robust_curve
from robaudit.compare.stats import average_ranks, bootstrap_interval, correlate, spearman

X = np.array([0.11, 0.05, 0.32, 0.27, 0.08, 0.19, 0.19, 0.40, 0.02, 0.23, 0.15, 0.30])
Y = np.array([0.52, 0.61, 0.20, 0.33, 0.58, 0.41, 0.38, 0.12, 0.70, 0.45, 0.40, 0.25])


def test_average_ranks_match_scipy_rankdata_with_ties() -> None:
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0])
    np.testing.assert_allclose(average_ranks(values), stats.rankdata(values))


@pytest.mark.parametrize("y", [Y, -Y, np.sin(7 * X), np.round(Y, 1)])
def test_spearman_matches_scipy(y: np.ndarray) -> None:
    expected = stats.spearmanr(X, y).statistic
    assert spearman(X, y) == pytest.approx(expected, abs=1e-12)


def test_spearman_is_undefined_for_constant_or_tiny_samples() -> None:
    assert spearman(X, np.ones_like(X)) is None
    assert spearman(X[:2], Y[:2]) is None


def test_bootstrap_interval_matches_scipy_percentile_bootstrap_on_the_same_resamples() -> None:
    resamples, seed = 3000, 20240611
    # scipy's paired bootstrap draws its resamples as rng.integers(0, n, (n_resamples, n)).
    draws = np.random.default_rng(seed).integers(0, len(X), (resamples, len(X)))
    low, high = bootstrap_interval(X, Y, draws)
    reference = stats.bootstrap(
        (X, Y), lambda x, y: stats.spearmanr(x, y).statistic, paired=True, vectorized=False,
        n_resamples=resamples, method="percentile", confidence_level=0.95, rng=np.random.default_rng(seed))
    assert low == pytest.approx(reference.confidence_interval.low, abs=1e-12)
    assert high == pytest.approx(reference.confidence_interval.high, abs=1e-12)


def test_correlate_is_seeded_and_its_interval_is_close_to_scipys_with_other_resamples() -> None:
    first, again = correlate(X, Y, 0, "a", "b"), correlate(X, Y, 0, "a", "b")
    assert first == again
    reference = stats.bootstrap(
        (X, Y), lambda x, y: stats.spearmanr(x, y).statistic, paired=True, vectorized=False,
        n_resamples=4000, method="percentile", rng=np.random.default_rng(1))
    assert first.low == pytest.approx(reference.confidence_interval.low, abs=0.05)
    assert first.high == pytest.approx(reference.confidence_interval.high, abs=0.05)
    assert first.low <= first.rho <= first.high


def test_correlate_uses_only_models_with_both_values() -> None:
    x, y = X.copy(), Y.copy()
    x[3], y[5] = np.nan, np.nan
    result = correlate(x, y, 0, "a", "b", n_resamples=200)
    keep = np.isfinite(x) & np.isfinite(y)
    assert result.n == 10
    assert result.rho == pytest.approx(stats.spearmanr(X[keep], Y[keep]).statistic, abs=1e-12)


def test_robust_accuracy_from_sizes_by_hand() -> None:
    # 10 images examined, 2 misclassified (not robust); 8 attacked with these minimal sizes:
    sizes = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, np.inf, 8 / 255])
    # at ε = 8/255 ≈ 0.0314: robust iff size > ε → 0.04, 0.05, 0.06, inf → 4 of 8; size == ε is not robust.
    assert robust_accuracy(sizes, 8 / 255, n_examined=10, n_skipped=2) == pytest.approx(0.8 * 4 / 8)
    assert robust_accuracy(sizes, 0.0, 10, 2) == pytest.approx(0.8)
    assert robust_accuracy(sizes, 1.0, 10, 2) == pytest.approx(0.1)  # only the unbroken image
    # ε = 0.025: six of the eight sizes exceed it.
    np.testing.assert_allclose(robust_curve(sizes, np.array([0.0, 0.025, 1.0]), 10, 2), [0.8, 0.6, 0.1])
