"""Every report figure, checked at its saved size: no title, label or colour-bar label is cut off.

The truth is the saved PNG itself: text that runs past the canvas leaves ink on the image's
outermost pixels, a figure with nothing clipped has a blank margin all round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
import torch

from robaudit.corruptions import CATEGORIES, CORRUPTION_NAMES, category_of
from robaudit.probes.adversarial_spectrum import render as adversarial_render
from robaudit.probes.base import ProbeResult
from robaudit.probes.corruptions import render as corruption_render
from robaudit.probes.hybrid import render as hybrid_render

LONG = "a deliberately long title that names the norm, the mode and the number of images: 1000 images"


def blank_border(path: Path, width: int = 2) -> bool:
    """Whether the outermost ``width`` pixels of the PNG at ``path`` are all white."""
    image = matplotlib.image.imread(path)[..., :3]
    border = np.concatenate([image[:width].reshape(-1, 3), image[-width:].reshape(-1, 3),
                             image[:, :width].reshape(-1, 3), image[:, -width:].reshape(-1, 3)])
    return bool((border > 0.98).all())


def corruption_metrics() -> dict[str, Any]:
    names = list(CORRUPTION_NAMES)
    rng = np.random.default_rng(0)
    accuracy = {c: {str(s): float(rng.uniform(0, 1)) for s in range(1, 6)} for c in names}
    return {"corruptions": names, "severities": [1, 2, 3, 4, 5], "clean_accuracy": 0.93,
            "accuracy": accuracy, "category_mean": {"low": 0.5, "mid": None, "high": 0.2},
            "overall_mean": 0.4, "noise_sweep": {"std": [0.0, 0.1, 0.2], "accuracy": [0.9, 0.5, 0.2]}}


def test_adversarial_figures_keep_their_long_titles(tmp_path: Path) -> None:
    power = torch.rand(32, 32, generator=torch.Generator().manual_seed(0)).numpy()
    paths = [adversarial_render.plot_power_spectrum(power, tmp_path / "power.png", LONG),
             adversarial_render.plot_radial_profile(np.linspace(0, 0.7, 30), np.linspace(0, 1, 30), 0.2,
                                                    (0.15, 0.25), tmp_path / "radial.png", LONG)]
    assert all(blank_border(p) for p in paths)


def test_corruption_figures_keep_the_colour_bar_label(tmp_path: Path) -> None:
    result = ProbeResult("corruptions", {}, corruption_metrics())
    paths = corruption_render.plot(result, tmp_path)
    assert len(paths) == 3 and all(blank_border(p) for p in paths)


@pytest.mark.parametrize("f_rev", [0.3, None])
def test_hybrid_figure_keeps_its_legend_outside_the_axes(tmp_path: Path, f_rev: float | None) -> None:
    grid = [0.0, 0.1, 0.3, 0.6, 1.0]
    stats = {"value": f_rev, "mean": f_rev, "std": 0.0, "per_seed": [f_rev]}
    metrics = {"grid": {"nyquist_fraction": grid},
               "per_seed_curves": {"p_low": [[0, 0.2, 0.5, 0.8, 1]], "p_high": [[1, 0.8, 0.5, 0.2, 0]]},
               "curves": {"p_low": [0, 0.2, 0.5, 0.8, 1], "p_high": [1, 0.8, 0.5, 0.2, 0],
                          "softmax_low": [0.1] * 5, "softmax_high": [0.1] * 5},
               "f_rev": {"cycles_per_pixel": stats | {"value": None if f_rev is None else f_rev / 2},
                         "nyquist_fraction": stats, "reason": None}}
    (path,) = hybrid_render.plot(ProbeResult("hybrid", {}, metrics), tmp_path)
    assert blank_border(path)


def test_a_clipped_figure_is_detected(tmp_path: Path) -> None:
    """The check itself: text placed past the canvas and saved without a tight box is caught."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    FigureCanvasAgg(fig)
    fig.add_subplot().set_title(LONG)
    fig.savefig(tmp_path / "clipped.png")
    assert not blank_border(tmp_path / "clipped.png")


def test_corruption_rows_are_grouped_by_frequency_category() -> None:
    ordered = corruption_render.by_category(list(CORRUPTION_NAMES))
    categories = [category_of(c) for c in ordered]
    assert categories == sorted(categories, key=list(CATEGORIES).index)
    assert sorted(ordered) == sorted(CORRUPTION_NAMES)
    m = corruption_metrics()
    m |= {"grey": False, "source": "generated", "n_images": 10, "n_clean_images": 10,
          "corruption_mean": {c: 0.5 for c in m["corruptions"]},
          "severity_mean": {str(s): 0.5 for s in range(1, 6)}}
    text = corruption_render.markdown(ProbeResult("corruptions", {}, m), [])
    rows = [line.split("|")[2].strip() for line in text.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() in CORRUPTION_NAMES]
    assert rows == categories
