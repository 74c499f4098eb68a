"""The corruptions probe end to end with a hand-built ProbeContext.

The model is an analytic brightness classifier (class 1 iff the mean pixel value > 0.5) and the
data are flat grey images (dark = class 0, bright = class 1), so the expected accuracies follow
from the corruption definitions: contrast and zero-mean noise keep the mean, so accuracy stays 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from robaudit.errors import RobauditError
from robaudit.probes.base import PROBES, ProbeContext, ResultCache
from robaudit.probes.cache import PROBE_TIME_UNIT
from robaudit.probes.corruptions import CorruptionProbe, CorruptionSettings
from tests.conftest import make_imageset, wrap


class BrightnessNet(nn.Module):
    """logits (N, 2) = (0.5 − mean, mean − 0.5) of each image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([0.5 - m, m - 0.5], dim=1)


def flat_images(n: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(n) % 2
    values = torch.where(labels == 1, 200, 60).to(torch.uint8)
    return values.view(n, 1, 1, 1).expand(n, 3, size, size).contiguous(), labels


def context(tmp_path: Path | None, n: int = 20, size: int = 32, channels: int = 3) -> ProbeContext:
    images, labels = flat_images(n, size)
    data = make_imageset(images, labels)
    model = wrap(BrightnessNet(), (channels, size, size), 2)
    cache = ResultCache(tmp_path, {"test": 1}) if tmp_path else ResultCache(None, {})
    return ProbeContext(model=model, data=data, device=torch.device("cpu"), seed=0, batch_size=8, cache=cache)


SMALL: dict[str, Any] = dict(corruptions=["contrast", "gaussian_noise", "brightness"], severities=[1, 3], n_images=16,
             noise_sweep=[0.0, 0.05, 0.1])


def test_registered_and_metrics(tmp_path: Path) -> None:
    assert PROBES.get("corruptions") is CorruptionProbe
    probe = CorruptionProbe(CorruptionSettings(**SMALL))
    result = probe(context(None))
    m = result.metrics
    assert m["clean_accuracy"] == 1.0 and m["n_images"] == 16
    assert m["accuracy"]["contrast"] == {"1": 1.0, "3": 1.0}
    assert m["accuracy"]["gaussian_noise"] == {"1": 1.0, "3": 1.0}
    table = m["accuracy"]
    low = [*table["contrast"].values(), *table["brightness"].values()]
    assert m["category_mean"]["low"] == pytest.approx(np.mean(low))
    assert m["category_mean"]["high"] == 1.0 and m["category_mean"]["mid"] is None
    assert m["severity_mean"]["3"] == pytest.approx(np.mean([table[c]["3"] for c in table]))
    assert m["overall_mean"] == pytest.approx(np.mean([v for row in table.values() for v in row.values()]))
    assert m["noise_sweep"] == {"std": [0.0, 0.05, 0.1], "accuracy": [1.0, 1.0, 1.0]}
    assert result.arrays["accuracy"].shape == (3, 2)
    json.dumps(m)  # JSON-able
    plots = probe.plot(result, tmp_path)
    assert {p.name for p in plots} == {"corruptions_heatmap.png", "corruptions_categories.png",
                                       "corruptions_noise_sweep.png"}
    assert all(p.stat().st_size > 0 for p in plots)
    text = probe.markdown(result, plots)
    assert "| contrast | low | 1.000 | 1.000 | 1.000 |" in text
    assert dict(probe.summary_rows(result))["corruptions clean accuracy"] == "1.000"


def test_resumes_per_corruption_and_severity(tmp_path: Path) -> None:
    probe = CorruptionProbe(CorruptionSettings(**SMALL))
    ctx = context(tmp_path)
    first = probe(ctx)
    time_record = ctx.cache.path(PROBE_TIME_UNIT)  # the finished probe's compute time, not a unit
    units = sorted(p for p in tmp_path.glob("*.npz") if p != time_record)
    assert len(units) == 1 + 3 * 2 + 3  # clean, 3 corruptions × 2 severities, 3 sweep levels
    units[0].unlink()  # as if killed before this unit was saved
    ctx = context(tmp_path)
    again = probe(ctx)
    assert (ctx.cache.hits, ctx.cache.misses) == (9, 1)
    assert again.metrics == first.metrics


def test_deterministic_per_seed() -> None:
    settings = CorruptionSettings(corruptions=["impulse_noise"], severities=[5], n_images=20, noise_sweep=[])
    a = CorruptionProbe(settings)(context(None)).metrics
    b = CorruptionProbe(settings)(context(None)).metrics
    assert a == b


def test_prebuilt_npy_set(tmp_path: Path) -> None:
    """SYNTHETIC CIFAR-10-C-layout files: severity 5 of 'fog' inverts brightness (accuracy 0)."""
    n = 10
    images, labels = flat_images(n)
    block = images.permute(0, 2, 3, 1).numpy()
    stack = np.concatenate([block] * 4 + [255 - block])
    np.save(tmp_path / "fog.npy", stack)
    np.save(tmp_path / "labels.npy", np.tile(labels.numpy(), 5).astype(np.uint8))
    settings = CorruptionSettings(corruptions_dir=str(tmp_path), corruptions=["fog"], n_images=None, noise_sweep=[])
    m = CorruptionProbe(settings)(context(None, n=n)).metrics
    assert m["accuracy"]["fog"] == {"1": 1.0, "2": 1.0, "3": 1.0, "4": 1.0, "5": 0.0}
    assert m["source"].startswith("npy:") and m["parameter_table"] is None


def test_prebuilt_size_mismatch_fails_before_work(tmp_path: Path) -> None:
    np.save(tmp_path / "fog.npy", np.zeros((10, 64, 64, 3), np.uint8))
    np.save(tmp_path / "labels.npy", np.zeros(10, np.uint8))
    settings = CorruptionSettings(corruptions_dir=str(tmp_path), corruptions=["fog"], noise_sweep=[])
    with pytest.raises(RobauditError, match="never resized"):
        CorruptionProbe(settings)(context(None))


def test_settings_validation(tmp_path: Path) -> None:
    with pytest.raises(RobauditError, match="Did you mean: gaussian_noise"):
        CorruptionSettings(corruptions=["gausian_noise"])
    with pytest.raises(RobauditError, match="severities"):
        CorruptionSettings(severities=[0, 6])
    with pytest.raises(RobauditError, match="frost.npy is missing"):
        np.save(tmp_path / "labels.npy", np.zeros(5, np.uint8))
        np.save(tmp_path / "fog.npy", np.zeros((5, 32, 32, 3), np.uint8))
        CorruptionSettings(corruptions_dir=str(tmp_path), corruptions=["fog", "frost"])


def test_relative_error_against_baseline(tmp_path: Path) -> None:
    baseline = {"probes": {"corruptions": {"clean_accuracy": 0.9, "accuracy": {
        "contrast": {"1": 0.5, "3": 0.3}, "gaussian_noise": {"1": 0.8, "3": 0.6}}}}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(baseline))
    settings = CorruptionSettings(**{**SMALL, "baseline_report": str(path)})
    rel = CorruptionProbe(settings)(context(None)).metrics["relative_error"]
    # our errors are 0 for contrast and noise: CE = 0 / (0.5 + 0.7); relative CE = 0 / (...)
    assert rel["ce"]["contrast"] == 0.0 and rel["relative_ce"]["gaussian_noise"] == 0.0
    assert rel["missing"] == ["brightness"] and rel["mce"] == 0.0


def test_grey_evaluation_feeds_grey_images() -> None:
    seen: list[torch.Tensor] = []

    class Spy(BrightnessNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x)
            return super().forward(x)

    ctx = context(None)
    ctx.model = wrap(Spy(), (3, 32, 32), 2)
    settings = CorruptionSettings(corruptions=["contrast"], severities=[1], grey=True, n_images=8, noise_sweep=[])
    m = CorruptionProbe(settings)(ctx).metrics
    assert m["grey"] and m["clean_accuracy"] == 1.0
    assert all(torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]) for x in seen)
