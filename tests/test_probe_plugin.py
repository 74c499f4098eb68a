"""A probe defined here, with one setting, gets its `score` flag, its --set key, its report section,
its schema entry and its `check` direction without any other file changing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from robaudit.cli import main
from robaudit.config import setting
from robaudit.probes import PROBES, Probe, ProbeContext, ProbeResult
from robaudit.report_model import Section, metric
from robaudit.report_schema import report_schema, validate_report


@dataclass
class BrightnessSettings:
    shift: float = setting(0.0, help="brightness added to every pixel", flag="brightness-shift",
                           minimum=0.0, maximum=1.0)


class BrightnessSection(Section):
    accuracy: float = metric(unit="fraction", label="accuracy after the shift", direction="higher", ge=0, le=1)
    n_images: int


class BrightnessProbe(Probe):
    """Accuracy on min(x + shift, 1) for the first 32 images."""

    name = "brightness_test"
    Settings = BrightnessSettings
    Metrics = BrightnessSection
    settings: BrightnessSettings

    def run(self, ctx: ProbeContext) -> ProbeResult:
        x, y = ctx.load(torch.arange(min(32, len(ctx.data))))
        shifted = (x + self.settings.shift).clamp(0, 1)
        accuracy = float((ctx.predict_logits(shifted).argmax(-1) == y).float().mean())
        return ProbeResult(self.name, self.settings_json(), {"accuracy": accuracy, "n_images": len(y)})

    def markdown(self, result: ProbeResult, plots: list[Path]) -> str:
        return f"## Brightness test\n\naccuracy {result.metrics['accuracy']:.3f}"


@pytest.fixture
def plugin() -> Iterator[None]:
    PROBES.register(BrightnessProbe.name)(BrightnessProbe)
    yield
    PROBES.unregister(BrightnessProbe.name)


def _accuracy_by_hand(spec: str, data: str, shift: float) -> float:
    """The reference: the same model and images evaluated directly, outside the probe machinery."""
    from robaudit.data import load_dataset
    from robaudit.models import load_model

    model = load_model(spec)
    images = load_dataset(data, model_info=model.info)
    x, y = images.load(torch.arange(32))
    with torch.no_grad():
        return float((model((x + shift).clamp(0, 1)).argmax(-1) == y).float().mean())


def test_a_probe_defined_in_a_test_gets_flag_set_key_section_and_schema(
        plugin: None, tmp_path: Path, tiny_model: str, tiny_npz: str) -> None:
    out = tmp_path / "card"
    assert main(["score", "-m", tiny_model, "-d", tiny_npz, "--probes", "brightness-test",
                 "--brightness-shift", "0.25", "-o", str(out), "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    assert report["config"]["probe_settings"]["brightness_test"] == {"shift": 0.25}
    assert report["probes"]["brightness_test"]["accuracy"] == pytest.approx(
        _accuracy_by_hand(tiny_model, tiny_npz, 0.25))
    assert "## Brightness test" in (out / "report.md").read_text()
    section = report_schema()["$defs"]["BrightnessSection"]["properties"]["accuracy"]
    assert (section["x-unit"], section["x-direction"], section["maximum"]) == ("fraction", "higher", 1)

    assert main(["score", "-m", tiny_model, "-d", tiny_npz, "--probes", "brightness-test",
                 "--set", "brightness_test.shift=0.5", "-o", str(out), "-q"]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["probe_settings"]["brightness_test"] == {
        "shift": 0.5}


@pytest.mark.parametrize("args, message", [
    (["--brightness-shift", "2"], "must be ≤ 1"),
    (["--set", "brightness_test.shfit=0.1"], "Did you mean: shift"),
    (["--set", "brightness_test.shift=abc"], "must be a number"),
])
def test_plugin_settings_are_validated_by_their_metadata(
        plugin: None, tmp_path: Path, tiny_model: str, tiny_npz: str, args: list[str], message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["score", "-m", tiny_model, "-d", tiny_npz, "--probes", "brightness-test", *args,
                 "-o", str(tmp_path / "bad"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "bad" / "report.json").exists()


def test_check_uses_the_metric_direction(plugin: None, tmp_path: Path, tiny_model: str, tiny_npz: str) -> None:
    out = tmp_path / "card"
    assert main(["score", "-m", tiny_model, "-d", tiny_npz, "--probes", "brightness-test", "-o", str(out), "-q"]) == 0
    accuracy = json.loads((out / "report.json").read_text())["probes"]["brightness_test"]["accuracy"]
    policy = tmp_path / "p.yaml"
    policy.write_text(f"rules:\n  - metric: probes.brightness_test.accuracy\n    better_than: {accuracy + 0.01}\n")
    assert main(["check", str(out / "report.json"), "--policy", str(policy), "-q"]) == 1  # higher is better
    policy.write_text(f"rules:\n  - metric: probes.brightness_test.accuracy\n    better_than: {accuracy - 0.01}\n")
    assert main(["check", str(out / "report.json"), "--policy", str(policy), "-q"]) == 0
