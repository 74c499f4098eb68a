"""The probe template: the final __call__ (seeding, timing, metric validation), the shared grid
evaluation (batches, counts, one cached unit per cell), the report models of every probe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from torch import Tensor, nn

from robaudit.config import build_settings, setting
from robaudit.errors import RobauditError
from robaudit.probes import PROBES
from robaudit.probes.base import (
    ORDER_CHECK_IMAGES,
    GridCell,
    Probe,
    ProbeContext,
    ProbeOutputError,
    ProbeResult,
    ResultCache,
)
from robaudit.report_model import Section, metric, metric_catalogue
from tests.conftest import make_imageset, wrap


class Threshold(nn.Module):
    """Class 1 iff the mean pixel value > 0.5; records every batch size it is called with."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x: Tensor) -> Tensor:
        self.batches.append(len(x))
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([0.5 - m, m - 0.5], dim=1)


def grey_context(n: int = 23, batch_size: int = 4, cache: ResultCache | None = None) -> tuple[ProbeContext, Threshold]:
    """n flat images with values i / (n − 1), labelled by the threshold: all correctly classified."""
    values = torch.linspace(0.02, 0.98, n)
    images = (values.view(n, 1, 1, 1).expand(n, 3, 8, 8) * 255).round().to(torch.uint8)
    labels = (images.float().mean(dim=(1, 2, 3)) / 255 > 0.5).long()
    net = Threshold()
    ctx = ProbeContext(model=wrap(net, (3, 8, 8), 2), data=make_imageset(images, labels),
                       device=torch.device("cpu"), batch_size=batch_size,
                       cache=cache or ResultCache(None, {}))
    return ctx, net


def shift(x: Tensor, cell: GridCell, start: int) -> Tensor:
    """Two variants per image: x + offset and x − offset, clipped."""
    return torch.stack([(x + cell.params).clamp(0, 1), (x - cell.params).clamp(0, 1)])


def test_grid_counts_match_a_direct_count_and_batches_never_exceed_the_batch_size() -> None:
    ctx, net = grey_context()
    indices = torch.arange(len(ctx.data))
    cells = [GridCell(f"offset={o}", o) for o in (0.0, 0.1, 0.3)]
    counts = ctx.evaluate_grid(cells, indices, shift, chunk=5)
    x, y = ctx.data.load(indices)
    for cell in cells:
        for k, moved in enumerate(((x + cell.params).clamp(0, 1), (x - cell.params).clamp(0, 1))):
            expected = int(((moved.mean(dim=(1, 2, 3)) > 0.5).long() == y).sum())
            assert counts[cell.key][k] == expected
    assert counts["offset=0.0"].tolist() == [len(x), len(x)]
    # The first batch's first images are also classified in the default memory order (its check).
    assert max(net.batches) <= ctx.batch_size and sum(net.batches) == 3 * 2 * len(x) + ORDER_CHECK_IMAGES


def test_each_grid_cell_is_one_cached_unit_and_a_rerun_resumes(tmp_path: Path) -> None:
    cells = [GridCell(f"offset={o}", o) for o in (0.0, 0.2)]
    first_ctx, _ = grey_context(cache=ResultCache(tmp_path, {"t": 1}))
    first = first_ctx.evaluate_grid(cells, torch.arange(10), shift)
    assert len(list(tmp_path.glob("*.npz"))) == 2 and first_ctx.cache.misses == 2
    more = [*cells, GridCell("offset=0.4", 0.4)]
    ctx, net = grey_context(cache=ResultCache(tmp_path, {"t": 1}))
    again = ctx.evaluate_grid(more, torch.arange(10), shift)
    assert (ctx.cache.hits, ctx.cache.misses) == (2, 1)
    assert sum(net.batches) == 2 * 10 + ORDER_CHECK_IMAGES  # only the new cell (and the order check)
    assert all(np.array_equal(first[k], again[k]) for k in first)


@dataclass
class OneSetting:
    level: int = setting(3, help="a level", minimum=1)


class OneMetric(Section):
    accuracy: float = metric(unit="fraction", label="accuracy", direction="higher", ge=0.0, le=1.0)


class Dummy(Probe):
    """A probe defined here: draws from torch's global generator and reports what it was told."""

    name = "dummy_template"
    Settings = OneSetting
    Metrics = OneMetric
    report: dict[str, float] = {"accuracy": 0.5}

    def run(self, ctx: ProbeContext) -> ProbeResult:
        self.drawn = torch.rand(3)
        return ProbeResult(self.name, self.settings_json(), dict(self.report))


def test_call_seeds_times_and_validates() -> None:
    ctx, _ = grey_context()
    ctx.seed = 7
    probe = Dummy()
    result = probe(ctx)
    torch.manual_seed(7)
    assert torch.equal(probe.drawn, torch.rand(3))
    assert result.seconds > 0
    for bad in ({"accuracy": 1.5}, {"accuracy": 0.5, "extra": 1}, {}):
        probe.report = bad
        with pytest.raises(ProbeOutputError, match="dummy_template"):
            probe(ctx)


def test_settings_from_the_template_follow_their_rules() -> None:
    assert build_settings(OneSetting, {"level": "4"}, "probe dummy").level == 4
    with pytest.raises(RobauditError, match="≥ 1"):
        build_settings(OneSetting, {"level": 0}, "probe dummy")


@pytest.mark.parametrize("name", ["hybrid", "adversarial_spectrum", "corruptions"])
def test_every_probe_declares_a_report_model_with_units_and_refuses_unknown_keys(name: str) -> None:
    cls = PROBES.get(name)
    catalogue = metric_catalogue(cls.Metrics)
    assert catalogue, name
    assert any(info.direction is not None for info in catalogue.values())
    with pytest.raises(pydantic.ValidationError):
        cls.Metrics.model_validate({"not_a_metric": 1})


@pytest.mark.parametrize(("name", "flag"), [
    ("hybrid", "hybrid-grid"), ("hybrid", "hybrid-seeds"), ("hybrid", "n-images"),
    ("adversarial_spectrum", "protocol"), ("adversarial_spectrum", "norm"), ("adversarial_spectrum", "steps"),
    ("adversarial_spectrum", "restarts"), ("adversarial_spectrum", "targeted"), ("adversarial_spectrum", "n-images"),
    ("corruptions", "corruptions-dir"), ("corruptions", "grey"), ("corruptions", "n-images"),
])
def test_the_cli_flags_are_declared_on_the_settings(name: str, flag: str) -> None:
    from robaudit.config import settings_info

    flags = {info.flag for info in settings_info(PROBES.get(name).Settings)}
    assert flag in flags


@pytest.mark.parametrize(("name", "key", "value", "message"), [
    ("hybrid", "grid", "uniform:1", "N ≥ 2"),
    ("hybrid", "grid", "uniform:abc", "N ≥ 2"),
    ("hybrid", "grid", "uniform:-3", "N ≥ 2"),
    ("hybrid", "grid", [0, 2], "≤ 1.41"),
    ("hybrid", "seeds", 0, "≥ 1"),
    ("hybrid", "n_images", 0, "≥ 1"),
    ("adversarial_spectrum", "protocol", "quick", "one of fast, standard, paper"),
    ("adversarial_spectrum", "norm", "l1", "one of linf, l2"),
    ("adversarial_spectrum", "bootstrap", -1, "≥ 0"),
    ("corruptions", "severities", [3, 6], "≤ 5"),
    ("corruptions", "noise_sweep", [0.1, 1.5], "≤ 1"),
    ("corruptions", "n_images", 0, "≥ 1"),
])
def test_bad_setting_values_are_refused_in_one_line(name: str, key: str, value: object, message: str) -> None:
    with pytest.raises(RobauditError, match=message) as info:
        build_settings(PROBES.get(name).Settings, {key: value}, f"probe {name}")
    assert "\n" not in str(info.value)


def test_hybrid_grid_text_is_parsed_through_the_setting() -> None:
    settings = build_settings(PROBES.get("hybrid").Settings, {"grid": "uniform:5"}, "probe hybrid")
    assert settings.grid == [0.0, 0.25, 0.5, 0.75, 1.0]
