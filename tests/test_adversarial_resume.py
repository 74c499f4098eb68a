"""A killed adversarial-spectrum run loses at most one unit of images and resumes with the numbers
of an uninterrupted run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from robaudit.attacks.protocols import PROTOCOLS
from robaudit.probes.adversarial_spectrum import AdversarialSettings, AdversarialSpectrumProbe
from robaudit.probes.adversarial_spectrum.probe import UNIT_IMAGES
from robaudit.probes.base import ResultCache
from tests.test_adversarial_probe import linear_context


class Killed(Exception):
    """Stands for the process dying mid-run."""


def test_a_run_killed_after_two_units_resumes_with_identical_numbers(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Units of 8 keep the test short; the default unit is the same mechanism, UNIT_IMAGES wide.
    settings = AdversarialSettings(protocol="fast", n_images=24, bootstrap=50, batch_size=8)
    fresh_ctx, _ = linear_context(n=30, n_wrong=2)
    fresh = AdversarialSpectrumProbe(settings)(fresh_ctx)  # no cache: one uninterrupted run

    ctx, _ = linear_context(n=30, n_wrong=2)
    ctx.cache = ResultCache(tmp_path, {"probe": "adversarial_spectrum"})
    attack = AdversarialSpectrumProbe._attack_batch
    calls: list[int] = []

    def dies_on_the_third(self: AdversarialSpectrumProbe, *args: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return attack(self, *args)

    monkeypatch.setattr(AdversarialSpectrumProbe, "_attack_batch", dies_on_the_third)
    with pytest.raises(Killed):
        AdversarialSpectrumProbe(settings)(ctx)
    monkeypatch.setattr(AdversarialSpectrumProbe, "_attack_batch", attack)
    saved = ctx.cache.misses
    resumed_ctx, _ = linear_context(n=30, n_wrong=2)
    resumed_ctx.cache = ResultCache(tmp_path, {"probe": "adversarial_spectrum"})
    calls.clear()
    monkeypatch.setattr(AdversarialSpectrumProbe, "_attack_batch", lambda self, *a: calls.append(1) or attack(self, *a))
    resumed = AdversarialSpectrumProbe(settings)(resumed_ctx)

    assert len(calls) == 1  # 24 images in 3 units of 8: two were saved before the kill, one is redone
    assert resumed_ctx.cache.hits == saved and saved >= 2
    assert resumed.metrics == fresh.metrics
    for key, array in fresh.arrays.items():
        np.testing.assert_array_equal(resumed.arrays[key], array, err_msg=key)


@pytest.mark.parametrize(("name", "cpu_unit"), [("fast", 64), ("standard", 64), ("paper", 64)])
def test_the_default_unit_is_the_preset_batch_capped_at_unit_images_off_the_gpu(name: str, cpu_unit: int) -> None:
    preset = PROTOCOLS[name]
    probe = AdversarialSpectrumProbe(AdversarialSettings(protocol=name))
    for device in (None, torch.device("cpu")):
        assert probe.protocol(device).batch_size == min(preset.batch_size, UNIT_IMAGES) == cpu_unit
    assert probe.protocol(torch.device("cuda")).batch_size == preset.batch_size  # no CUDA needed to plan


def test_an_explicit_batch_size_attacks_and_caches_that_many_together() -> None:
    settings = AdversarialSettings(protocol="fast", batch_size=16)
    protocol = AdversarialSpectrumProbe(settings).protocol()
    assert protocol.batch_size == 16 and "batch_size" in protocol.overrides


def test_a_unit_saved_under_another_budget_of_the_same_preset_is_computed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AdversarialSettings(protocol="fast", n_images=8, bootstrap=0, batch_size=8)
    first, _ = linear_context(n=12, n_wrong=2)
    first.cache = ResultCache(tmp_path, {"probe": "adversarial_spectrum"})
    AdversarialSpectrumProbe(settings)(first)
    # The same settings, but the preset's budget changed (as between two versions of robaudit).
    monkeypatch.setitem(PROTOCOLS, "fast", dataclasses.replace(PROTOCOLS["fast"], fmn_steps=5))
    second, _ = linear_context(n=12, n_wrong=2)
    second.cache = ResultCache(tmp_path, {"probe": "adversarial_spectrum"})
    calls: list[int] = []
    attack = AdversarialSpectrumProbe._attack_batch
    monkeypatch.setattr(AdversarialSpectrumProbe, "_attack_batch", lambda self, *a: calls.append(1) or attack(self, *a))
    result = AdversarialSpectrumProbe(settings)(second)
    assert calls == [1] and result.metrics["protocol"]["fmn_steps"] == 5
