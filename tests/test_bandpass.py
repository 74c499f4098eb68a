"""Band-pass probe: a classifier with a known frequency band, a blind classifier, settings, resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from robaudit.config import build_settings
from robaudit.errors import RobauditError
from robaudit.probes import PROBES
from robaudit.probes.bandpass import BandpassProbe, BandpassSettings
from robaudit.probes.base import ResultCache
from tests.spectral_models import F0, WIDTH, IgnoresInput, NearestMeanInBand, band_dataset, context, templates

FINE_GRID = [round(0.01 * i, 2) for i in range(71)]


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    patterns = templates()
    return (patterns, *band_dataset(patterns, per_class=8))


def test_halfway_cut_offs_of_a_band_limited_classifier_fall_in_its_band(data: tuple) -> None:
    patterns, images, labels = data
    result = BandpassProbe(BandpassSettings(cutoffs=FINE_GRID, n_images=40)).run(
        context(NearestMeanInBand(patterns), images, labels))
    m = result.metrics
    BandpassProbe.Metrics.model_validate(m)
    assert m["clean_accuracy"] == 1.0 and m["chance_accuracy"] == pytest.approx(0.2)
    for key in ("f_lp50", "f_hp50"):
        value = m[key]["cycles_per_pixel"]
        assert value is not None and F0 - WIDTH <= value <= F0 + WIDTH, (key, value)
        assert m[key]["nyquist_fraction"] == pytest.approx(value / 0.5) and m[key]["reason"] is None
    cut = np.asarray(m["curves"]["cutoff_cpp"])
    low, high = np.asarray(m["curves"]["lowpass_accuracy"]), np.asarray(m["curves"]["highpass_accuracy"])
    below, above = cut <= F0 - WIDTH, cut >= F0 + WIDTH
    # Below the band a low-pass hides it (all images look alike: chance); above it keeps it all.
    assert np.allclose(low[below], 0.2) and np.allclose(low[above], 1.0)
    assert np.allclose(high[below], 1.0) and np.allclose(high[above], 0.2)
    band = m["critical_band"]
    assert band["low_cpp"] < F0 <= band["high_cpp"] and band["accuracy"] == 1.0
    assert np.array_equal(result.arrays["band_accuracy"], m["curves"]["band_accuracy"])


def test_gaussian_cut_offs_sit_where_the_response_at_the_band_is_between_a_tenth_and_nine_tenths(data: tuple) -> None:
    patterns, images, labels = data
    result = BandpassProbe(BandpassSettings(filter="gaussian", cutoffs=FINE_GRID, n_images=40)).run(
        context(NearestMeanInBand(patterns), images, labels))
    # Response exp(−f0²/2c²) at the band; it is in [0.1, 0.9] for c in [f0/√(2 ln 10), f0/√(2 ln(10/9))].
    lowest, highest = F0 / math.sqrt(2 * math.log(10)), F0 / math.sqrt(2 * math.log(10 / 9))
    for key in ("f_lp50", "f_hp50"):
        value = result.metrics[key]["cycles_per_pixel"]
        assert value is not None and lowest <= value <= highest, (key, value)


def test_a_model_that_ignores_its_input_gives_constant_curves_and_null_cut_offs(data: tuple) -> None:
    patterns, images, labels = data
    balanced = BandpassProbe(BandpassSettings(n_images=40)).run(context(IgnoresInput(5), images, labels))
    m = balanced.metrics
    assert set(m["curves"]["lowpass_accuracy"]) == {0.2} and set(m["curves"]["highpass_accuracy"]) == {0.2}
    assert set(m["curves"]["band_accuracy"]) == {0.2}
    assert m["f_lp50"]["cycles_per_pixel"] is None and "not above chance" in m["f_lp50"]["reason"]
    # More of class 0 than chance: clean accuracy above chance, the flat curves still never cross.
    keep = torch.cat([torch.arange(8), torch.arange(8, 40, 2)])
    skewed = BandpassProbe(BandpassSettings(n_images=40)).run(context(IgnoresInput(5), images[keep], labels[keep],
                                                                      n_classes=5))
    m = skewed.metrics
    assert m["clean_accuracy"] == pytest.approx(8 / 24)
    assert len(set(m["curves"]["lowpass_accuracy"])) == 1
    assert m["f_lp50"]["cycles_per_pixel"] is None and "never rises" in m["f_lp50"]["reason"]
    assert m["f_hp50"]["cycles_per_pixel"] is None and "never falls" in m["f_hp50"]["reason"]
    BandpassProbe.Metrics.model_validate(m)


def test_same_seed_same_numbers_and_a_rerun_resumes_from_the_cache(tmp_path: Path, data: tuple) -> None:
    patterns, images, labels = data
    model = NearestMeanInBand(patterns)
    settings = BandpassSettings(n_images=24)
    first_cache = ResultCache(tmp_path, {"k": 1})
    first = BandpassProbe(settings).run(context(model, images, labels, cache=first_cache))
    assert first_cache.misses == 4 and first_cache.hits == 0  # clean, low-pass, high-pass, bands
    second_cache = ResultCache(tmp_path, {"k": 1})
    second = BandpassProbe(settings).run(context(model, images, labels, cache=second_cache))
    assert second_cache.misses == 0 and second_cache.hits == 4
    assert first.metrics == second.metrics
    assert BandpassProbe(settings).run(context(model, images, labels)).metrics == first.metrics


@pytest.mark.parametrize(("values", "message"), [({"filter": "box"}, "ideal, gaussian"),
                                                 ({"cutoffs": [0.1, 0.9]}, "≤"), ({"n_images": 0}, "≥")])
def test_bad_settings_are_refused_with_one_line(values: dict, message: str) -> None:
    with pytest.raises(RobauditError, match=message):
        build_settings(BandpassSettings, values, "probe bandpass")


def test_the_probe_is_registered() -> None:
    assert PROBES.get("bandpass") is BandpassProbe


def test_figure_and_markdown_are_written(tmp_path: Path, data: tuple) -> None:
    from PIL import Image

    patterns, images, labels = data
    probe = BandpassProbe(BandpassSettings(n_images=10, cutoffs=[0.0, 0.2, 0.3, 0.7]))
    result = probe.run(context(NearestMeanInBand(patterns), images, labels))
    plots = probe.plot(result, tmp_path)
    assert [p.name for p in plots] == ["bandpass_curves.png"] and Image.open(plots[0]).size[0] > 300
    text = probe.markdown(result, plots)
    assert "](bandpass_curves.png)" in text and text.count("\n| 0.") >= 4
    f_lp50 = result.metrics["f_lp50"]["cycles_per_pixel"]
    assert dict(probe.summary_rows(result))["bandpass f_lp50 (cpp)"] == f"{f_lp50:.4f}"
