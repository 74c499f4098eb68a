"""Fourier heat map: a classifier with a known frequency band, a blind classifier, symmetry, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from robaudit.probes import PROBES
from robaudit.probes.base import ResultCache
from robaudit.probes.fourier_heatmap import FourierHeatmapProbe, FourierHeatmapSettings
from robaudit.probes.fourier_heatmap.probe import default_eps
from tests.spectral_models import (
    EPS,
    SIZE,
    IgnoresInput,
    NearestMeanInBand,
    band_dataset,
    context,
    in_annulus,
    templates,
)


@pytest.fixture(scope="module")
def band_result() -> tuple[dict, dict]:
    patterns = templates()
    images, labels = band_dataset(patterns, per_class=8)
    result = FourierHeatmapProbe(FourierHeatmapSettings(eps=EPS, n_images=40)).run(
        context(NearestMeanInBand(patterns), images, labels))
    return result.metrics, result.arrays


def test_error_equals_clean_error_outside_the_band_and_exceeds_it_inside(band_result: tuple[dict, dict]) -> None:
    metrics, arrays = band_result
    error, fy, fx = arrays["error"], arrays["fy"], arrays["fx"]
    assert error.shape == (SIZE, SIZE)
    assert np.allclose(fy, np.fft.fftshift(np.fft.fftfreq(SIZE))) and np.allclose(fx, fy)
    inside = in_annulus(fy, fx)
    assert inside.sum() > 8
    assert metrics["clean_error"] < 0.05
    assert np.array_equal(error[~inside], np.full((~inside).sum(), metrics["clean_error"]))
    assert bool((error[inside] > metrics["clean_error"]).all())
    peak = np.hypot(metrics["peak"]["fy"], metrics["peak"]["fx"])
    assert peak == pytest.approx(metrics["peak"]["cycles_per_pixel"])
    assert 0.21 < metrics["peak"]["cycles_per_pixel"] <= 0.29
    assert metrics["peak"]["nyquist_fraction"] == pytest.approx(metrics["peak"]["cycles_per_pixel"] / 0.5)


def test_heat_map_is_symmetric_under_f_to_minus_f(band_result: tuple[dict, dict]) -> None:
    error = band_result[1]["error"]
    # fftshift order: index i holds k = i − S/2; −k sits at S − i (mod S), so flip rows 1.. and columns 1..
    mirrored = np.roll(error[::-1, ::-1], 1, axis=(0, 1))
    assert np.array_equal(error, mirrored)


def test_metrics_follow_the_section_model_and_bands_partition_the_map(band_result: tuple[dict, dict]) -> None:
    metrics, arrays = band_result
    FourierHeatmapProbe.Metrics.model_validate(metrics)
    r = np.hypot(arrays["fy"][:, None], arrays["fx"][None, :])
    high = r >= metrics["bands"]["mid_high_cpp"]
    assert metrics["band_error"]["high"] == pytest.approx(arrays["error"][high].mean())
    profile = metrics["radial_profile"]
    ring = np.rint(r * SIZE)
    for f, value in zip(profile["cycles_per_pixel"], profile["error"], strict=True):
        assert value == pytest.approx(arrays["error"][ring == round(f * SIZE)].mean())


def test_a_model_that_ignores_its_input_has_a_flat_heat_map() -> None:
    patterns = templates()
    images, labels = band_dataset(patterns, per_class=4)
    result = FourierHeatmapProbe(FourierHeatmapSettings(n_images=20, max_size=7)).run(
        context(IgnoresInput(5), images, labels))
    error = result.arrays["error"]
    assert error.shape == (7, 7)
    assert np.allclose(result.arrays["fx"], np.arange(-3, 4) / SIZE)
    assert bool((error == 0.8).all()) and result.metrics["clean_error"] == pytest.approx(0.8)
    assert result.metrics["eps"] == 4.0  # Yin et al.'s value for small inputs
    FourierHeatmapProbe.Metrics.model_validate(result.metrics)


def test_same_seed_same_map_and_a_rerun_resumes_from_the_cache(tmp_path: Path) -> None:
    patterns = templates()
    images, labels = band_dataset(patterns, per_class=4)
    model = NearestMeanInBand(patterns)
    settings = FourierHeatmapSettings(eps=EPS, n_images=20, max_size=9)
    first_cache = ResultCache(tmp_path, {"k": 1})
    first = FourierHeatmapProbe(settings).run(context(model, images, labels, cache=first_cache))
    assert first_cache.misses > 0 and first_cache.hits == 0
    second_cache = ResultCache(tmp_path, {"k": 1})
    second = FourierHeatmapProbe(settings).run(context(model, images, labels, cache=second_cache))
    assert second_cache.misses == 0 and second_cache.hits == first_cache.misses
    assert first.metrics == second.metrics and np.array_equal(first.arrays["error"], second.arrays["error"])
    fresh = FourierHeatmapProbe(settings).run(context(model, images, labels, seed=0))
    assert np.array_equal(fresh.arrays["error"], first.arrays["error"])
    other = FourierHeatmapProbe(settings).run(context(model, images, labels, seed=5))
    assert not np.array_equal(other.arrays["error"], first.arrays["error"])  # other signs


def test_default_eps_follows_yin_et_al_and_the_probe_is_registered() -> None:
    assert default_eps(32, 32) == 4.0 and default_eps(64, 64) == 4.0 and default_eps(224, 224) == 15.7
    assert PROBES.get("fourier_heatmap") is FourierHeatmapProbe
    assert torch.get_default_dtype() == torch.float32


def test_figures_and_markdown_are_written(tmp_path: Path) -> None:
    from PIL import Image

    patterns = templates()
    images, labels = band_dataset(patterns, per_class=4)
    probe = FourierHeatmapProbe(FourierHeatmapSettings(eps=EPS, n_images=20, max_size=5))
    result = probe.run(context(NearestMeanInBand(patterns), images, labels))
    plots = probe.plot(result, tmp_path)
    assert [p.name for p in plots] == ["fourier_heatmap.png", "fourier_heatmap_radial.png"]
    assert all(Image.open(p).size[0] > 300 for p in plots)
    text = probe.markdown(result, plots)
    assert "](fourier_heatmap.png)" in text and f"{result.metrics['clean_error']:.3f}" in text
    assert [row[0] for row in probe.summary_rows(result)] == ["fourier error low/mid/high", "fourier peak |f| (cpp)"]
