"""The adversarial-spectrum probe against analytic truth on linear classifiers.

For logits = Wx + b with two classes and images whose minimal perturbation stays inside the
[0, 1] box, the minimal perturbation that swaps the classes has size |m| / ‖w_y − w_t‖₂ (L2)
and |m| / ‖w_y − w_t‖₁ (L∞), m the logit margin; its direction is w_t − w_y (L2) or its sign
(L∞), so when w_t − w_y lives on one radial frequency r0, f_0.5 lies within a bin of r0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from robaudit.data.base import DatasetInfo, TensorImageSet
from robaudit.errors import RobauditError
from robaudit.models.wrapper import AuditedModel, ModelInfo
from robaudit.probes.adversarial_spectrum import (
    AdversarialSettings,
    AdversarialSpectrumProbe,
    draw_targets,
    select_images,
)
from robaudit.probes.base import PROBES, ProbeContext, ProbeResult, ResultCache

C, H, W = 3, 16, 16
R0_BINS = [(3, 4), (4, 3), (5, 0), (0, 5), (4, -3), (3, -4)]  # all at radius 5/16 cpp
R0 = 5 / 16


def annulus_pattern(generator: torch.Generator) -> Tensor:
    """A (C, H, W) sum of cosines whose frequencies all have radius R0 (random phases)."""
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    pattern = torch.zeros(C, H, W, dtype=torch.float64)
    for ky, kx in R0_BINS:
        phases = torch.rand(C, generator=generator, dtype=torch.float64) * 2 * math.pi
        pattern += torch.cos(2 * math.pi * (ky * yy / H + kx * xx / W)[None] + phases[:, None, None])
    return pattern.float()


def linear_context(n: int = 40, n_wrong: int = 3, seed: int = 0) -> tuple[ProbeContext, nn.Linear]:
    """Two-class linear model with w_1 − w_0 in the R0 annulus; images with margins well away
    from zero and far from the box walls; the first ``n_wrong`` labels are wrong (skipped)."""
    g = torch.Generator().manual_seed(seed)
    pattern = annulus_pattern(g).flatten()
    lin = nn.Linear(C * H * W, 2)
    with torch.no_grad():
        lin.weight[0], lin.weight[1] = 0.05 * pattern, -0.05 * pattern
        lin.bias.zero_()
    info = ModelInfo(
        spec="linear",
        source="test",
        name="linear",
        input_size=(C, H, W),
        num_classes=2,
        mean=(0.0,),
        std=(1.0,),
    )
    model = AuditedModel(nn.Sequential(nn.Flatten(), lin), info)
    x = 0.4 + 0.2 * torch.rand(n, C, H, W, generator=g)
    diff = (lin.weight[1] - lin.weight[0]).view(1, C, H, W)
    margin = (model(x)[:, 1] - model(x)[:, 0]).detach()
    wanted = (0.2 + 0.8 * torch.rand(n, generator=g)) * torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    x = x + ((wanted - margin) / diff.pow(2).sum()).view(-1, 1, 1, 1) * diff  # set the margins
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = model(images.float() / 255).argmax(1)
    labels[:n_wrong] = 1 - labels[:n_wrong]
    data = TensorImageSet(
        images,
        labels,
        DatasetInfo(spec="t", name="t", split="test", num_images=0, num_classes=2, image_size=(C, H, W)),
    )
    return ProbeContext(model=model, data=data, device=torch.device("cpu"), seed=seed), lin


def truth(ctx: ProbeContext, lin: nn.Linear, index: np.ndarray, norm: str) -> Tensor:
    x, _ = ctx.data.load(torch.as_tensor(index))
    logits = ctx.model(x).double()
    diff = (lin.weight[1] - lin.weight[0]).double()
    dual = diff.abs().sum() if norm == "linf" else diff.norm()
    return (logits[:, 1] - logits[:, 0]).abs() / dual


def run(ctx: ProbeContext, **kwargs: Any) -> ProbeResult:
    options: dict[str, Any] = {"protocol": "fast", "n_images": 32, "bootstrap": 200, **kwargs}
    settings = AdversarialSettings(**options)
    return AdversarialSpectrumProbe(settings)(ctx)


def radial_neighbours(r0: float) -> tuple[float, float]:
    fy, fx = torch.meshgrid(torch.fft.fftfreq(H), torch.fft.fftfreq(W), indexing="ij")
    radii = sorted(set(np.round(torch.sqrt(fy**2 + fx**2).flatten().numpy(), 9).tolist()))
    i = radii.index(round(r0, 9))
    return radii[i - 1], radii[i + 1]


@pytest.mark.parametrize(("norm", "targeted"), [("linf", True), ("l2", False)])
def test_sizes_match_analytic_minimum_and_f05_the_annulus(norm: str, targeted: bool) -> None:
    ctx, lin = linear_context()
    result = run(ctx, norm=norm, targeted=targeted)
    m = result.metrics
    assert (m["n_attacked"], m["n_skipped"], m["success_rate"]) == (32, 3, 1.0)
    ratio = torch.from_numpy(result.arrays["size"]).double() / truth(ctx, lin, result.arrays["index"], norm)
    assert float((ratio >= 1 - 1e-3).float().mean()) == 1.0  # verified: never below the minimum
    assert float((ratio <= 1.01).float().mean()) >= 0.95
    below, above = radial_neighbours(R0)
    f05 = m["f_05"]["cycles_per_pixel"]
    assert below <= f05["value"] <= above
    assert f05["ci_low"] <= f05["value"] <= f05["ci_high"]
    assert m["f_05"]["nyquist_fraction"]["value"] == pytest.approx(f05["value"] / 0.5)
    assert m["rejected_candidates"] == 0 and not m["suspect"]
    assert sum(m["winner_counts"].values()) == 32 and m["passes"]["backward"] > 0


def test_targets_are_seeded_wrong_and_model_independent() -> None:
    ctx, _ = linear_context()
    idx = torch.arange(len(ctx.data))
    labels = ctx.data.labels
    k = 7  # pretend a 7-class label space: offsets are drawn for every data index at once
    full = draw_targets(ctx, idx, labels % k, k)
    assert bool((full != labels % k).all())
    sub = torch.tensor([5, 2, 30])
    assert torch.equal(draw_targets(ctx, sub, labels[sub] % k, k), full[sub])


def test_result_arrays_report_keys_and_resume(tmp_path: Path) -> None:
    ctx, _ = linear_context(n=20, n_wrong=0)
    ctx.cache = ResultCache(tmp_path, {"probe": "adversarial_spectrum"})
    probe = AdversarialSpectrumProbe(AdversarialSettings(protocol="fast", n_images=12, bootstrap=50))
    first = probe(ctx)
    misses = ctx.cache.misses
    again = probe(ctx)
    assert ctx.cache.hits == misses and again.metrics == first.metrics
    m = first.metrics
    for key in (
        "f_05",
        "size",
        "size_255",
        "success_rate",
        "n_attacked",
        "n_skipped",
        "winner_counts",
        "rejected_candidates",
        "passes",
        "sanity",
        "suspect",
        "protocol",
    ):
        assert key in m
    assert m["protocol"]["name"] == "fast" and m["protocol"]["overrides"] == ["n_images"]
    a = first.arrays
    assert a["index"].shape == a["size"].shape == a["winner"].shape == a["target"].shape == (12,)
    assert a["power_spectrum"].shape == (H, W)
    plots = probe.plot(first, tmp_path)
    assert [p.name for p in plots] == [
        "adversarial_spectrum_power.png",
        "adversarial_spectrum_radial.png",
    ]
    assert all(p.stat().st_size > 0 for p in plots)
    assert "f_0.5" in probe.markdown(first, plots) and probe.summary_rows(first)


class Stochastic(nn.Module):
    """A toy 'randomised defence': logits plus fresh noise on every call."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out + 1e-3 * torch.randn_like(out)


def test_stochastic_model_is_flagged_suspect() -> None:
    ctx, _ = linear_context(n=12, n_wrong=0)
    ctx.model = AuditedModel(Stochastic(ctx.model.net), ctx.model.info)
    result = run(ctx, n_images=8, steps=20)
    assert result.metrics["sanity"]["stochastic_outputs"] and result.metrics["suspect"]
    assert any("stochastic_outputs" in flag for flag in result.flags)
    assert "suspect" in AdversarialSpectrumProbe().markdown(result, [])


def test_registered_and_bad_settings_raise() -> None:
    assert PROBES.get("adversarial_spectrum") is AdversarialSpectrumProbe
    ctx, _ = linear_context(n=4)
    with pytest.raises(RobauditError, match="Valid"):
        run(ctx, protocol="quick")
    with pytest.raises(RobauditError, match="linf, l2"):
        run(ctx, norm="linfinity")


@pytest.mark.slow
def test_standard_protocol_with_brendel_bethge_matches_truth() -> None:
    """The standard preset (the batched Brendel–Bethge from verified starts) keeps linear sizes analytic."""
    ctx, lin = linear_context(n=12, n_wrong=0)
    result = run(ctx, protocol="standard", n_images=8, steps=50, restarts=1)
    ratio = torch.from_numpy(result.arrays["size"]).double() / truth(ctx, lin, result.arrays["index"], "linf")
    assert result.metrics["success_rate"] == 1.0
    assert float((ratio <= 1.01).float().mean()) >= 0.95 and float(ratio.min()) >= 1 - 1e-3
    assert result.metrics["offered_by_attack"]["brendel_bethge"] > 0


class Constant(nn.Module):
    """A fully gradient-masked 'model': the same logits whatever the input (zero gradients)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.tensor([2.0, 0.0, 1.0]) + 0.0 * x.flatten(1).sum(1, keepdim=True)


def test_unbreakable_masked_model_gives_null_f05_and_suspect(tmp_path: Path) -> None:
    images = torch.full((6, C, H, W), 128, dtype=torch.uint8)
    info = DatasetInfo(spec="t", name="t", split="test", num_images=0, num_classes=3, image_size=(C, H, W))
    data = TensorImageSet(images, torch.zeros(6, dtype=torch.long), info)
    model_info = ModelInfo(
        spec="const", source="test", name="const", input_size=(C, H, W), num_classes=3, mean=(0.0,), std=(1.0,)
    )
    model = AuditedModel(Constant(), model_info)
    ctx = ProbeContext(model=model, data=data, device=torch.device("cpu"))
    result = run(ctx, n_images=4, steps=10)
    m = result.metrics
    assert m["success_rate"] == 0.0 and m["size"]["median"] is None
    assert m["f_05"]["cycles_per_pixel"]["value"] is None and m["f_05"]["reason"]
    assert m["sanity"]["bad_gradients"] and m["sanity"]["unbounded_success_below_100"]
    assert m["suspect"]
    probe = AdversarialSpectrumProbe()
    assert "null" in probe.markdown(result, probe.plot(result, tmp_path))


def test_selection_is_first_correct_of_seeded_order_whatever_the_chunking() -> None:
    ctx, _ = linear_context(n=40, n_wrong=10)
    full = select_images(ctx, 25)
    ctx.batch_size = 3
    small = select_images(ctx, 25)
    assert np.array_equal(full["indices"], small["indices"]) and full["skipped"] == small["skipped"]
    x, y = ctx.data.load(torch.as_tensor(full["indices"]))
    assert bool((ctx.model(x).argmax(1) == y).all()) and len(full["indices"]) == 25
    assert full["examined"] == 25 + full["skipped"]


class Quantised(nn.Module):
    """The linear model's decision as one-hot logits: zero input gradients everywhere, so gradient
    attacks cannot move, but any image of the target class is still of the target class."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        decision = self.net(x).argmax(dim=1)
        return nn.functional.one_hot(decision, 2).float() + 0.0 * x.flatten(1).sum(1, keepdim=True)


def test_unbounded_search_succeeds_by_construction_and_a_shortfall_is_counted_not_suspected() -> None:
    ctx, _ = linear_context(n=12, n_wrong=0)
    ctx.model = AuditedModel(Quantised(ctx.model.net), ctx.model.info)
    result = run(ctx, n_images=8, steps=5)
    m = result.metrics
    assert m["success_rate"] == 1.0 and not m["sanity"]["unbounded_success_below_100"]
    assert m["n_not_reached"] + sum(v for k, v in m["winner_counts"].items() if k != "start") == 8
    assert m["winner_counts"]["start"] == m["n_not_reached"] > 0
    assert any("budget shortfall" in note and f"{m['n_not_reached']} of 8" in note for note in result.flags)
    assert m["sanity"]["bad_gradients"]  # the zero gradients are still reported as such
    x, y = ctx.data.load(torch.as_tensor(result.arrays["index"]))
    assert bool((ctx.model(x).argmax(1) == y).all())


def test_the_section_states_the_clean_accuracy_it_ran_on() -> None:
    ctx, _ = linear_context(n=40, n_wrong=3)
    m = run(ctx, n_images=6, steps=5, restarts=1).metrics
    order = torch.randperm(40, generator=ctx.generator("adversarial", "subset"))[: m["n_examined"]]
    x, y = ctx.data.load(order)
    assert m["clean_accuracy"] == pytest.approx(float((ctx.model(x).argmax(1) == y).float().mean()))
    assert "ddn" not in m["protocol"]["attacks"] and "ddn" not in m["winner_counts"]
