"""Hybrid probe: pairing rules, a classifier with a known frequency band, determinism, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from robaudit import spectral
from robaudit.probes.base import ProbeContext, ResultCache
from robaudit.probes.hybrid import HybridProbe, HybridSettings, hybrid_pairs, parse_grid
from tests.conftest import make_imageset, wrap

SIZE = 32


def annulus_templates(n_classes: int, f0: float, width: float, seed: int = 0) -> torch.Tensor:
    """Random grey patterns whose spectrum lies only in f0 − width < r ≤ f0 + width (cpp)."""
    noise = torch.randn(n_classes, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    band = spectral.bandpass(noise, f0 - width, f0 + width)
    return band / band.abs().amax(dim=(-2, -1), keepdim=True)


class NearestMeanInBand(nn.Module):
    """Sees only the annulus around f0: band-pass, then nearest class template (−distance logits)."""

    def __init__(self, templates: torch.Tensor, f0: float, width: float) -> None:
        super().__init__()
        self.register_buffer("templates", templates.flatten(1))
        self.f0, self.width = f0, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = spectral.bandpass(x, self.f0 - self.width, self.f0 + self.width).flatten(1)
        return -torch.cdist(seen, self.templates)


def band_dataset(templates: torch.Tensor, per_class: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images: 0.5 + 0.2·template + broadband noise outside the classifier's band."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(templates)).repeat_interleave(per_class)
    clutter = spectral.bandpass(torch.randn(len(labels), 1, SIZE, SIZE, generator=g), 0.0, 0.71) * 0.05
    x = 0.5 + 0.2 * templates[labels] + clutter
    return (x.clamp(0, 1) * 255).round().to(torch.uint8), labels


def context(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, seed: int = 0,
            cache: ResultCache | None = None) -> ProbeContext:
    net = wrap(model, tuple(images.shape[1:]), int(labels.max()) + 1)  # type: ignore[arg-type]
    return ProbeContext(model=net, data=make_imageset(images, labels), device=torch.device("cpu"),
                        seed=seed, batch_size=512, cache=cache or ResultCache(None, {}))


@pytest.mark.parametrize("f0", [0.1, 0.2, 0.3])
def test_f_rev_of_a_band_limited_classifier_is_its_band(f0: float) -> None:
    width = 0.02
    templates = annulus_templates(5, f0, width)
    images, labels = band_dataset(templates, per_class=20)
    grid = parse_grid("uniform:21")  # steps of 0.05 Nyquist = 0.025 cpp
    result = HybridProbe(HybridSettings(n_images=100, grid=grid, seeds=2))(
        context(NearestMeanInBand(templates, f0, width), images, labels))
    f_rev = result.metrics["f_rev"]["cycles_per_pixel"]
    step = 0.025
    assert f_rev["value"] is not None and abs(f_rev["value"] - f0) <= step
    assert result.metrics["f_rev"]["nyquist_fraction"]["value"] == pytest.approx(f_rev["value"] / 0.5)
    assert result.metrics["curves"]["p_high"][0] > 0.75 and result.metrics["curves"]["p_low"][-1] > 0.75


def test_pairs_use_every_image_once_as_low_and_once_as_high_across_classes() -> None:
    labels = torch.arange(7).repeat_interleave(13)[torch.randperm(91, generator=torch.Generator().manual_seed(0))]
    low, high = hybrid_pairs(labels, 70, torch.Generator().manual_seed(3))
    assert len(low) == 70 and sorted(low.tolist()) == sorted(high.tolist())
    assert len(set(low.tolist())) == 70
    assert bool((labels[low] != labels[high]).all())
    again = hybrid_pairs(labels, 70, torch.Generator().manual_seed(3))
    assert torch.equal(low, again[0]) and torch.equal(high, again[1])
    other = hybrid_pairs(labels, 70, torch.Generator().manual_seed(4))
    assert not torch.equal(high, other[1])


def test_a_model_that_only_sees_low_frequencies_has_no_reversal() -> None:
    templates = annulus_templates(4, 0.06, 0.03)
    images, labels = band_dataset(templates, per_class=10)
    model = NearestMeanInBand(templates, 0.06, 0.03)
    result = HybridProbe(HybridSettings(n_images=40, grid=[0.3, 0.5, 1.0], seeds=1))(
        context(model, images, labels))
    assert result.metrics["f_rev"]["cycles_per_pixel"]["value"] is None
    assert result.metrics["f_rev"]["reason"].startswith("always low-biased")


def test_same_seed_same_numbers_and_a_rerun_resumes_from_the_cache(tmp_path: Path) -> None:
    templates = annulus_templates(4, 0.2, 0.03)
    images, labels = band_dataset(templates, per_class=10)
    model = NearestMeanInBand(templates, 0.2, 0.03)
    settings = HybridSettings(n_images=40, grid=parse_grid("uniform:11"), seeds=2)
    first_cache = ResultCache(tmp_path, {"k": 1})
    first = HybridProbe(settings)(context(model, images, labels, cache=first_cache))
    assert first_cache.misses > 0 and first_cache.hits == 0
    second_cache = ResultCache(tmp_path, {"k": 1})
    second = HybridProbe(settings)(context(model, images, labels, cache=second_cache))
    assert second_cache.misses == 0 and second_cache.hits == first_cache.misses
    assert first.metrics == second.metrics
    fresh = HybridProbe(settings)(context(model, images, labels))
    assert fresh.metrics == first.metrics


@pytest.mark.parametrize("text", ["", "a,b", "0.5", "0,2.0", "uniform:x"])
def test_bad_grids_are_rejected(text: str) -> None:
    from robaudit.errors import RobauditError

    with pytest.raises((RobauditError, ValueError)):
        parse_grid(text)


class ConstantModel(nn.Module):
    """Ignores its input: the same logits for every image (class 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(len(x), -1) + 0.0 * x.flatten(1)[:, :1]


class RandomGuess(nn.Module):
    """Ignores the image's content: a fixed pseudo-random class per image, from its pixel sum."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.flatten(1).sum(1) * 1e4).long() % 7919
        return nn.functional.one_hot((key * 2654435761) % 4, 4).float()


@pytest.mark.parametrize(("model", "why"), [(ConstantModel(), "one class"), (RandomGuess(), "at chance")])
def test_no_verdict_on_a_constant_or_chance_model(model: nn.Module, why: str) -> None:
    templates = annulus_templates(4, 0.2, 0.03)
    images, labels = band_dataset(templates, per_class=10)
    result = HybridProbe(HybridSettings(n_images=40, grid=parse_grid("uniform:6"), seeds=2))(
        context(model, images, labels))
    m = result.metrics
    assert m["verdict_refused"] and why in m["f_rev"]["reason"]
    assert m["f_rev"]["cycles_per_pixel"]["value"] is None and m["f_rev"]["cycles_per_pixel"]["mean"] is None
    assert m["clean_accuracy"] <= 0.5 and any("no f_rev" in flag for flag in result.flags)
    assert "always" not in m["f_rev"]["reason"]


def test_clean_accuracy_and_pairs_are_reported() -> None:
    f0, width = 0.2, 0.03
    templates = annulus_templates(4, f0, width)
    images, labels = band_dataset(templates, per_class=10)
    ctx = context(NearestMeanInBand(templates, f0, width), images, labels)
    result = HybridProbe(HybridSettings(n_images=40, grid=parse_grid("uniform:6"), seeds=2))(ctx)
    x, y = ctx.data.load(torch.arange(len(labels)))
    direct = float((ctx.model(x).argmax(1) == y).float().mean())
    assert result.metrics["clean_accuracy"] == pytest.approx(direct) and not result.metrics["verdict_refused"]
    low, high = result.arrays["low_index"], result.arrays["high_index"]
    assert low.shape == high.shape == (2, 40)
    expected = [hybrid_pairs(labels, 40, ctx.generator("hybrid", "pairs", s)) for s in range(2)]
    assert all(torch.equal(torch.from_numpy(low[s]), expected[s][0]) for s in range(2))
    assert bool((labels[low] != labels[high]).all())


def test_one_f_rev_in_json_markdown_summary_and_figure(tmp_path: Path) -> None:
    templates = annulus_templates(4, 0.2, 0.03)
    images, labels = band_dataset(templates, per_class=10)
    probe = HybridProbe(HybridSettings(n_images=40, grid=parse_grid("uniform:11"), seeds=2))
    result = probe(context(NearestMeanInBand(templates, 0.2, 0.03), images, labels))
    value = result.metrics["f_rev"]["cycles_per_pixel"]["value"]
    nyquist = result.metrics["f_rev"]["nyquist_fraction"]["value"]
    rows = dict(probe.summary_rows(result))
    assert rows["hybrid f_rev (cpp)"].startswith(f"{value:.4f}")
    assert rows["hybrid f_rev (Nyquist fraction)"].startswith(f"{nyquist:.4f}")
    assert f"| cycles_per_pixel | {value:.4f} |" in probe.markdown(result, [])
    assert f"f_rev = {value:.3f} cpp ({nyquist:.3f} Nyquist)" in render_legend(probe, result, tmp_path)


def render_legend(probe: HybridProbe, result: object, tmp_path: Path) -> str:
    """The legend texts of the hybrid figure as drawn (the figure is re-created, not parsed)."""
    from unittest import mock

    from matplotlib.axes import Axes

    seen: list[str] = []
    original = Axes.axvline

    def record(self: Axes, x: float, *args: object, **kwargs: object) -> object:
        seen.append(str(kwargs.get("label", "")))
        return original(self, x, *args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(Axes, "axvline", record):
        probe.plot(result, tmp_path)  # type: ignore[arg-type]
    return " ".join(seen)
