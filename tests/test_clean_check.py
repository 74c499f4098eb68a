"""The clean check that lets a probe refuse a verdict: the binomial tail against scipy."""

from __future__ import annotations

import pytest
from scipy import stats

from robaudit.probes.clean import binomial_tail, check_clean


@pytest.mark.parametrize(("k", "n", "p"), [(0, 10, 0.1), (3, 10, 0.1), (30, 40, 0.25), (13, 40, 0.25),
                                          (400, 1000, 0.1), (4000, 4000, 0.5), (2, 3, 0.9)])
def test_binomial_tail_matches_scipy(k: int, n: int, p: float) -> None:
    assert binomial_tail(k, n, p) == pytest.approx(float(stats.binom.sf(k - 1, n, p)), rel=1e-9, abs=1e-300)


def test_refusals() -> None:
    assert check_clean(40, 40, 0.25, 0.25).refusal is None
    assert "one class" in (check_clean(10, 40, 0.25, 1.0).refusal or "")
    assert "at chance" in (check_clean(12, 40, 0.25, 0.3).refusal or "")
    assert check_clean(20, 40, 0.25, 0.3).refusal is None  # 20 of 40 is well above chance 0.25
