"""Unit tests of robaudit.attacks: protocols, verification, pass counting, seeding, summaries.

Truths come from outside the code under test: hand-made candidates with known defects, the
definition of L∞/L2 norms, autograd's own call counts, spectral.first_crossing.
"""

from __future__ import annotations

import dataclasses
import math
from typing import cast

import numpy as np
import pytest
import torch
from torch import nn

from robaudit import spectral
from robaudit.attacks.protocols import PROTOCOLS, check_norm, resolve_protocol
from robaudit.attacks.search import MinimalSearch, seeded
from robaudit.attacks.summary import bootstrap_f05, size_stats
from robaudit.attacks.verify import GROWTHS, CountingModel, Verdict, distances, offer_grown, verify, worst_size
from robaudit.errors import RobauditError


def _linear(k: int = 3, d: int = 12) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(d, k)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def test_protocol_presets_and_overrides() -> None:
    assert set(PROTOCOLS) == {"fast", "standard", "paper"}
    assert PROTOCOLS["paper"].n_images == 1000 and "brendel_bethge" in PROTOCOLS["paper"].attacks
    assert PROTOCOLS["fast"].steps_of("brendel_bethge") < PROTOCOLS["fast"].steps  # CI's preset stays short
    p = resolve_protocol("fast", n_images=7, restarts=3)
    assert (p.n_images, p.restarts, p.steps) == (7, 3, PROTOCOLS["fast"].steps)
    assert p.overrides == ("n_images", "restarts")
    assert not p.uses("ddn", "linf") and not p.uses("ddn", "l2")  # fast leaves DDN out
    standard = resolve_protocol("standard")
    assert not standard.uses("ddn", "linf") and standard.uses("ddn", "l2")


@pytest.mark.parametrize("bad", ["fats", "exhaustive"])
def test_unknown_protocol_lists_choices(bad: str) -> None:
    with pytest.raises(RobauditError, match="Valid: fast, paper, standard"):
        resolve_protocol(bad)


def test_unknown_norm_and_bad_budget() -> None:
    with pytest.raises(RobauditError, match="Valid: linf, l2"):
        check_norm("l1")
    with pytest.raises(RobauditError, match="at least 1"):
        resolve_protocol("fast", steps=0)


def test_distances_match_norm_definitions() -> None:
    x = torch.zeros(2, 1, 2, 2)
    x_adv = x.clone()
    x_adv[0, 0, 0, 0], x_adv[0, 0, 1, 1] = 0.3, -0.4
    x_adv[1, 0, 0, 1] = 0.1
    expected = {"linf": [0.4, 0.1], "l2": [0.5, 0.1]}
    for norm, values in expected.items():
        assert torch.allclose(distances(x, x_adv, norm), torch.tensor(values, dtype=torch.float64))


def test_verify_rejects_each_kind_of_bad_candidate() -> None:
    net = _linear(k=2, d=4)
    x = torch.full((4, 1, 2, 2), 0.5)
    labels = net(x).argmax(1)
    targets = 1 - labels
    weight = cast(nn.Linear, net[1]).weight
    w = weight[targets] - weight[labels]  # moves towards the target
    good = (x + 2.0 * w.sign().view(4, 1, 2, 2) * 0.25).clamp(0, 1)
    assert bool((net(good).argmax(1) == targets).all())
    cands = good.clone()
    cands[1] = x[1]  # not adversarial
    cands[2, 0, 0, 0] = 1.5  # outside the box
    cands[3, 0, 0, 0] = float("nan")  # non-finite
    v = verify(net, x, cands, labels, targets, "linf")
    assert v.ok.tolist() == [True, False, False, False]
    assert v.not_adversarial[1] and v.out_of_box[2] and v.non_finite[3]
    assert math.isclose(float(v.size[0]), float((good[0] - x[0]).abs().max()), rel_tol=1e-6)
    assert torch.isinf(v.size[1:]).all()
    untargeted = verify(net, x, cands, labels, None, "l2")
    assert untargeted.ok.tolist() == [True, False, False, False]


def test_a_rejected_boundary_point_is_offered_again_grown_until_it_verifies() -> None:
    """Class 1 wins where the pixel sum exceeds 1.2002: a step d of sum 0.4 from x (sum 0.8) ends
    0.05 % short of that boundary, so growths 1e-5 and 1e-4 fail and 1e-3 verifies (analytic)."""
    net = nn.Linear(4, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0] * 4, [1.0] * 4]))
        net.bias.copy_(torch.tensor([0.0, -1.2002]))
    model = nn.Sequential(nn.Flatten(), net).eval()
    x = torch.full((4, 1, 2, 2), 0.2)
    labels = torch.zeros(4, dtype=torch.long)
    x_adv = x + 0.1
    x_adv[1] = x[1]  # not moved: the attack found nothing
    x_adv[2, 0, 0, 0] = 1.5  # outside the box
    x_adv[3] = x[3] + 0.01  # far from the boundary: no growth of at most 1 % reaches it
    calls: list[list[int]] = []
    accepted: list[float] = []

    def offer(rows: torch.Tensor, cands: torch.Tensor) -> Verdict:
        calls.append(rows.tolist())
        verdict = verify(model, x[rows], cands, labels[rows], None, "linf")
        accepted.extend(verdict.size[verdict.ok].tolist())
        return verdict

    verdict = verify(model, x, x_adv, labels, None, "linf")
    assert not bool(verdict.ok.any())
    fixed = offer_grown(offer, x, x_adv, verdict)
    assert fixed.tolist() == [True, False, False, False]
    assert calls == [[0, 3]] * len(GROWTHS[:3]) + [[3]] * len(GROWTHS[3:])
    assert accepted == pytest.approx([0.1 * (1 + GROWTHS[2])], rel=1e-5)


def test_counting_model_counts_forward_and_backward_per_image() -> None:
    counting = CountingModel(_linear())
    x = torch.rand(5, 1, 3, 4, requires_grad=True)
    out = counting(x)
    torch.autograd.grad(out.sum(), x)
    with torch.no_grad():
        counting(x[:2])
    assert counting.counts() == (7, 5)
    counting.train()
    assert not counting.training


def test_seeded_is_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded(torch.Generator().manual_seed(5), torch.device("cpu")):
        a = torch.rand(3)
    with seeded(torch.Generator().manual_seed(5), torch.device("cpu")):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(before, torch.random.get_rng_state())


def test_worst_size_bounds_any_box_point() -> None:
    x = torch.tensor([[[[0.2, 0.9]]]])
    assert float(worst_size(x, "linf")[0]) == pytest.approx(0.9)
    assert float(worst_size(x, "l2")[0]) == pytest.approx(math.hypot(0.8, 0.9))


def test_half_crossings_match_first_crossing() -> None:
    g = torch.Generator().manual_seed(0)
    radii = torch.cat([torch.zeros(1), torch.rand(30, generator=g).sort().values]).double()
    raw = torch.rand(50, 30, generator=g).double() ** 4
    zero = torch.zeros(50, 1, dtype=torch.float64)
    cumulative = torch.cat([zero, raw.cumsum(1) / raw.sum(1, keepdim=True)], 1)
    fast = spectral.half_crossings(radii, cumulative)
    slow = [spectral.first_crossing(radii, c, 0.5) for c in cumulative]
    assert np.allclose(fast.numpy(), np.array(slow, dtype=np.float64))


def test_radial_sums_agree_with_radial_cumulative() -> None:
    d = torch.rand(6, 3, 8, 10, generator=torch.Generator().manual_seed(1))
    radii, cumulative = spectral.radial_cumulative(spectral.power_spectrum(d))
    r2, sums = spectral.radial_sums(spectral.power_spectra(d))
    assert torch.allclose(radii.double(), r2)
    mean = sums.mean(0)
    assert torch.allclose(mean.cumsum(0) / mean.sum(), cumulative, atol=1e-6)
    per_image = spectral.power_spectra(d).mean(0).float()
    assert torch.allclose(per_image, spectral.power_spectrum(d), rtol=1e-5)


def test_bootstrap_interval_brackets_identical_images() -> None:
    sums = torch.zeros(10, 4, dtype=torch.float64)
    sums[:, 2] = 1.0  # all power at the third radial value
    radii = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    low, high = bootstrap_f05(sums, radii, 50, torch.Generator().manual_seed(0))
    assert low == pytest.approx(0.25) and high == pytest.approx(0.25)  # halfway from 0.2 to 0.3


def test_size_stats_units() -> None:
    stats = size_stats(np.array([1 / 255, 3 / 255, np.inf]), "linf")
    assert stats["size_255"]["median"] == pytest.approx(2.0)
    assert stats["size_255"]["std"] == pytest.approx(math.sqrt(2.0))
    assert size_stats(np.array([0.5]), "l2")["size_255"] is None


def test_each_attack_declares_its_norms_and_ddn_never_runs_under_linf() -> None:
    from robaudit.attacks.fb_attacks import MIN_NORM_ATTACKS, min_norm_attack
    from robaudit.attacks.protocols import ATTACK_NORMS

    for name, preset in PROTOCOLS.items():
        assert "ddn" not in preset.attacks_for("linf"), name
        assert "ddn" not in preset.to_json("linf")["attacks"]
    assert "ddn" in PROTOCOLS["standard"].to_json("l2")["attacks"]
    for (attack, norm) in MIN_NORM_ATTACKS:
        assert norm in ATTACK_NORMS[attack]
    with pytest.raises(ValueError, match="ddn"):
        min_norm_attack("ddn", "linf", 10, 12, 4)


def test_attacks_run_the_presets_own_steps_and_steps_sets_every_attack() -> None:
    standard = resolve_protocol("standard")
    assert (standard.steps_of("fmn"), standard.steps_of("brendel_bethge"), standard.steps_of("ddn")) == (100, 100, 200)
    fast = resolve_protocol("fast")
    assert (fast.steps_of("fmn"), fast.steps_of("brendel_bethge")) == (100, 20)
    assert (fast.steps_of("fmn", targeted=False), fast.steps_of("brendel_bethge", targeted=False)) == (40, 15)
    assert standard.steps_of("fmn", targeted=False) == 100  # no untargeted count of its own: fmn_steps
    untargeted = [standard.steps_of(a, targeted=False) for a in ("ddn", "brendel_bethge")]
    assert untargeted == [120, 80]  # untargeted counts of their own
    assert resolve_protocol("paper").steps_of("brendel_bethge") == 1000  # no budget of its own: steps
    given = resolve_protocol("standard", steps=50)
    counts = {given.steps_of(a, targeted) for a in ("fmn", "ddn", "brendel_bethge") for targeted in (True, False)}
    assert counts == {50} and given.overrides == ("steps",)
    assert resolve_protocol("fast", steps=50).steps_of("fmn", targeted=False) == 50
    # FMN takes one input gradient per image and step (autograd counts them, not the search).
    x = torch.rand(4, 1, 3, 4)
    net = CountingModel(_linear())
    labels = net(x).argmax(1)
    protocol = dataclasses.replace(standard, attacks=("fmn",), fmn_steps=7, restarts=1)
    MinimalSearch(net, protocol, "linf", torch.Generator().manual_seed(0), torch.device("cpu")).run(x, labels, None)
    assert net.counts()[1] == 4 * 7
    # An untargeted search runs FMN's untargeted count where the protocol gives one.
    net.backward_passes = 0
    protocol = dataclasses.replace(protocol, untargeted_fmn_steps=3)
    MinimalSearch(net, protocol, "linf", torch.Generator().manual_seed(0), torch.device("cpu")).run(x, labels, None)
    assert net.counts()[1] == 4 * 3
    # Brendel–Bethge likewise: one input gradient per image and step from its verified start.
    pool = torch.rand(64, 1, 3, 4)
    pool_labels = net(pool).argmax(1)
    exemplars = torch.stack([pool[int(torch.nonzero(pool_labels != y)[0])] for y in labels])
    net.backward_passes = 0
    protocol = dataclasses.replace(standard, attacks=("start", "brendel_bethge"), bb_steps=5, restarts=1,
                                   untargeted_bb_steps=None)
    MinimalSearch(net, protocol, "linf", torch.Generator().manual_seed(0), torch.device("cpu")).run(
        x, labels, None, starts=(exemplars, torch.ones(4, dtype=torch.bool)))
    assert net.counts()[1] == 4 * 5
    # DDN (L2) runs its untargeted count in an untargeted search.
    net.backward_passes = 0
    protocol = dataclasses.replace(standard, attacks=("ddn",), steps=9, untargeted_ddn_steps=6, restarts=1)
    MinimalSearch(net, protocol, "l2", torch.Generator().manual_seed(0), torch.device("cpu")).run(x, labels, None)
    assert net.counts()[1] == 4 * 6


def test_the_cards_protocol_line_names_each_attacks_own_step_count() -> None:
    from robaudit.probes.adversarial_spectrum.render import _own_steps

    standard = resolve_protocol("standard").to_json("linf")
    assert _own_steps(standard) == " (FMN 100, Brendel–Bethge 100)"
    assert _own_steps(resolve_protocol("fast").to_json("linf")) == " (Brendel–Bethge 20)"
    untargeted = resolve_protocol("fast").to_json("linf") | {"targeted": False}
    assert _own_steps(untargeted) == " (FMN 40, Brendel–Bethge 15)"
    untargeted_l2 = resolve_protocol("standard").to_json("l2") | {"targeted": False}
    assert _own_steps(untargeted_l2) == " (FMN 100, DDN 120, Brendel–Bethge 80)"
    assert _own_steps(resolve_protocol("paper").to_json("linf")) == ""  # none of its own
    del standard["bb_steps"]  # a report written before the field existed
    assert _own_steps(standard) == " (FMN 100)"


def test_standard_and_paper_try_pgd_near_the_best_size_first_and_the_card_says_so() -> None:
    from robaudit.probes.adversarial_spectrum.render import _near_first

    assert [name for name, p in PROTOCOLS.items() if p.pgd_near_first] == ["standard", "paper"]
    assert _near_first(resolve_protocol("standard").to_json("l2")) == ", the first just below the best size"
    assert _near_first(resolve_protocol("fast").to_json("l2")) == ""
    assert _near_first({"bisection_steps": 6}) == ""  # a report written before the field existed


def test_verification_refuses_candidates_whose_logits_are_not_finite() -> None:
    """argmax of a NaN row names a class; a candidate the model answers with NaN is no adversarial."""

    class NanBetweenLevels(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            off = (x * 255 - (x * 255).round()).flatten(1).abs().amax(1, keepdim=True) > 1e-3
            logits = torch.stack([x.flatten(1).mean(1), 1 - x.flatten(1).mean(1)], 1)
            return torch.where(off, torch.full_like(logits, float("nan")), logits)

    x = torch.full((3, 1, 2, 2), 0.2)
    labels = NanBetweenLevels()(x).argmax(1)
    verdict = verify(NanBetweenLevels(), x, x + 0.5 / 255, labels, None, "linf")
    assert not bool(verdict.ok.any()) and bool(torch.isinf(verdict.size).all())
