"""End to end through the CLI: score → report card → check, and table-driven CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from robaudit.cli import main
from robaudit.report_schema import SCHEMA_PATH, validate_report

FACTORY = """
import torch
from torch import nn

def make(num_classes=10):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                        nn.Linear(128, num_classes))
    return {"model": net, "input_size": [3, 32, 32], "num_classes": num_classes}

def make_imagenet():
    return make(1000)
"""
FAST = ["--probes", "hybrid", "--n-images", "40", "--hybrid-seeds", "2", "--hybrid-grid", "uniform:6", "-q"]


@pytest.fixture
def tiny_model(tmp_path: Path) -> str:
    path = tmp_path / "tiny_factory.py"
    path.write_text(FACTORY)
    return f"py:{path}:make"


def run(args: list[str]) -> int:
    return main([str(a) for a in args])


def test_score_writes_a_valid_report_card_and_check_gates_it(tmp_path: Path, tiny_model: str) -> None:
    out = tmp_path / "card"
    assert run(["score", "-m", tiny_model, "-o", out, *FAST]) == 0
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    assert report["model"]["spec"] == tiny_model and report["provenance"]["seed"] == 0
    assert {"report.md", "hybrid_curves.png", "hybrid.npz"} <= {p.name for p in out.iterdir()}
    assert "## Hybrid images" in (out / "report.md").read_text()
    key = "probes.hybrid.curves.p_low.0"
    value = report["probes"]["hybrid"]["curves"]["p_low"][0]
    passing, failing = tmp_path / "pass.yaml", tmp_path / "fail.yaml"
    passing.write_text(f"rules:\n  - metric: {key}\n    max: {value + 0.01}\n")
    failing.write_text(f"rules:\n  - metric: {key}\n    min: {value + 0.01}\n")
    assert run(["check", out / "report.json", "--policy", passing, "-q"]) == 0
    assert run(["check", out / "report.json", "--policy", failing, "--junit", tmp_path / "j.xml", "-q"]) == 1
    assert (tmp_path / "j.xml").exists()
    assert run(["score", "-m", tiny_model, "-o", out, *FAST, "--policy", failing]) == 1
    assert json.loads((out / "report.json").read_text())["policy"]["passed"] is False


def test_rerun_resumes_and_gives_identical_numbers(tmp_path: Path, tiny_model: str) -> None:
    out = tmp_path / "card"
    assert run(["score", "-m", tiny_model, "-o", out, *FAST]) == 0
    first = json.loads((out / "report.json").read_text())
    assert run(["score", "-m", tiny_model, "-o", out, *FAST]) == 0
    second = json.loads((out / "report.json").read_text())
    assert first["probes"] == second["probes"]
    assert second["provenance"]["cache"]["misses"] == 0 and second["provenance"]["cache"]["hits"] > 0
    assert run(["score", "-m", tiny_model, "-o", tmp_path / "fresh", *FAST, "--no-cache"]) == 0
    assert json.loads((tmp_path / "fresh" / "report.json").read_text())["probes"] == first["probes"]


def test_json_output_is_the_report(tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["score", "-m", tiny_model, "-o", tmp_path / "c", *FAST[:-1], "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["probes"]["hybrid"]["n_pairs"] > 0


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


CLI_ERRORS = [
    (lambda tmp, m: ["score", "-m", "torchvison:resnet18"], "Did you mean: torchvision"),
    (lambda tmp, m: ["score", "-m", f"file:{tmp}/missing.pt"], "does not exist"),
    (lambda tmp, m: ["score", "-m", m, "-d", f"npz:{tmp}/x.npz"], "does not exist"),
    (lambda tmp, m: ["score", "-m", m, "-d", "cifar100", "--data-dir", tmp], "not found under"),
    (lambda tmp, m: ["score", "-m", m, "--probes", "hybird"], "Did you mean: hybrid"),
    (lambda tmp, m: ["score", "-m", m, "--set", "hybrid.sedes=3"], "Did you mean: seeds"),
    (lambda tmp, m: ["score", "-m", m, "--set", "oops"], "PROBE.SETTING=VALUE"),
    (lambda tmp, m: ["score", "-m", m, "--hybrid-grid", "fine"], "--hybrid-grid"),
    (lambda tmp, m: ["score", "-m", m.replace(":make", ":make_imagenet")], "1000 classes"),
    (lambda tmp, m: ["score", "-m", m, "--policy", write(tmp, "p.yaml", "rules: [")], "not valid YAML"),
    (lambda tmp, m: ["check", f"{tmp}/none.json", "--policy", write(tmp, "p.yaml", "rules: [")], "does not exist"),
    (lambda tmp, m: ["check", write(tmp, "r.json", "{"), "--policy", write(tmp, "p.yaml", "rules: [")],
     "not valid JSON"),
    (lambda tmp, m: ["check", write(tmp, "r.json", '{"schema_version": "1.0", "probes": {}}'),
                     "--policy", write(tmp, "p.yaml", "rules:\n  - {metric: probes.x, max: 1}")], "schema version"),
    (lambda tmp, m: ["models", "--source", "timmm"], "Did you mean: timm"),
]
if not __import__("torch").cuda.is_available():
    CLI_ERRORS.append((lambda tmp, m: ["score", "-m", m, "--device", "cuda"], "no CUDA device"))


@pytest.mark.parametrize(("make_args", "message"), CLI_ERRORS, ids=[m for _, m in CLI_ERRORS])
def test_cli_errors_are_one_line_exit_2_and_keep_earlier_reports(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture[str], make_args, message: str
) -> None:
    out = tmp_path / "card"
    out.mkdir()
    (out / "report.json").write_text('{"earlier": true}')
    code = run([*make_args(tmp_path, tiny_model), "-o", out] if make_args(tmp_path, tiny_model)[0] == "score"
               else make_args(tmp_path, tiny_model))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err.replace("\n", " ") and "Traceback" not in err
    assert err.strip().startswith("error:") and len(err.strip().splitlines()) <= 3  # one (wrapped) line
    assert (out / "report.json").read_text() == '{"earlier": true}'


def test_python_dash_m_runs_without_a_traceback_on_bad_input(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "robaudit", "score", "-m", "nope:x", "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown model source" in proc.stderr


def test_default_score_runs_on_the_embedded_default(tmp_path: Path) -> None:
    """`robaudit score` with no model or data: the embedded CNN (trained on first use) and data."""
    out = tmp_path / "default"
    assert run(["score", "-o", out, "--n-images", "64", "--hybrid-seeds", "2", "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    assert report["model"]["spec"] == "embedded:cnn" and report["data"]["spec"] == "embedded"
    assert set(report["probes"]) == {"hybrid", "corruptions", "adversarial_spectrum", "fourier_heatmap", "bandpass"}
    assert report["config"]["probe_settings"]["adversarial_spectrum"]["protocol"] == "fast"
    f_rev = report["probes"]["hybrid"]["f_rev"]
    assert f_rev["cycles_per_pixel"]["value"] is not None or f_rev["reason"]


def test_published_schemas_are_generated_from_the_report_model() -> None:
    """`python -m robaudit.report_schema` regenerates both copies; neither may drift."""
    from robaudit.report_schema import report_schema

    docs = Path(__file__).parents[1] / "docs" / "report.schema.json"
    assert json.loads(docs.read_text()) == json.loads(SCHEMA_PATH.read_text()) == report_schema()


def test_quiet_check_still_reports_failing_rules_on_stderr(
        tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "card"
    assert run(["score", "-m", tiny_model, "-o", out, *FAST]) == 0
    policy = write(tmp_path, "p.yaml", "rules:\n  - metric: probes.hybrid.curves.p_low.0\n    min: 2\n")
    capsys.readouterr()
    assert run(["check", out / "report.json", "--policy", policy, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "policy failed: probes.hybrid.curves.p_low.0" in captured.err


def test_an_error_is_the_first_line_of_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No empty line (a progress bar's last frame off a terminal) before the error line."""
    assert run(["score", "-m", "nosuch:x", "-o", tmp_path / "card"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown model source 'nosuch'")


def test_json_stdout_holds_the_report_alone_when_the_model_prints(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A factory (or a library's download line) printing on stdout must not break `--json`."""
    factory = tmp_path / "loud.py"
    factory.write_text(FACTORY + "\nprint('Downloading: somewhere')\n")
    assert run(["score", "-m", f"py:{factory}:make", "-o", tmp_path / "card", "--json", *FAST]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["model"]["spec"] == f"py:{factory}:make"
    assert "Downloading: somewhere" in captured.err


def test_score_writes_the_junit_file_on_bad_input_too(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - {metric: probes.hybrid.f_rev.cycles_per_pixel.mean, max: 0.5}\n")
    junit = tmp_path / "j.xml"
    assert run(["score", "-m", "nosuch:x", "-o", tmp_path / "card", "--policy", policy, "--junit", junit, "-q"]) == 2
    suite = ET.parse(junit).getroot()
    assert suite.get("errors") == "1" and "unknown model source" in suite.find("testcase/error").get("message")


def test_one_line_messages_drop_terminal_codes_and_do_not_repeat_an_empty_exception() -> None:
    from robaudit.errors import describe_exception, one_line

    assert one_line(ValueError("\x1b[1mWeights only load failed.\x1b[0m\nRe-running")) == (
        "Weights only load failed. Re-running")
    assert describe_exception(EOFError()) == "EOFError"
    assert describe_exception(EOFError("Ran out of input")) == "EOFError: Ran out of input"
