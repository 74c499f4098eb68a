"""The published report schema: generated from the typed model, refuses what is not a report."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from robaudit.cli import main
from robaudit.errors import RobauditError
from robaudit.report_schema import SCHEMA_VERSION, report_schema, validate_report


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A report.json written by `score` (tiny model, synthetic npz data, two quick probes)."""
    import numpy as np

    from tests.conftest import TINY_FACTORY

    root = tmp_path_factory.mktemp("schema")
    (root / "f.py").write_text(TINY_FACTORY)
    rng = np.random.default_rng(0)
    np.savez(root / "d.npz", x=rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8), y=np.arange(100) % 10)
    assert main(["score", "-m", f"py:{root / 'f.py'}:make", "-d", f"npz:{root / 'd.npz'}", "-o", str(root / "c"),
                 "--probes", "hybrid,corruptions", "--n-images", "40", "--hybrid-seeds", "2", "--hybrid-grid",
                 "uniform:5", "--set", "corruptions.corruptions=[fog]", "--set", "corruptions.severities=[1]",
                 "--set", "corruptions.noise_sweep=[0.0]", "-q"]) == 0
    return json.loads((root / "c" / "report.json").read_text())


def test_real_output_is_accepted_by_the_model_and_by_jsonschema(real_report: dict[str, Any]) -> None:
    validate_report(real_report)
    jsonschema.validate(real_report, report_schema())  # the published schema, read by any validator


def _set(report: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(report)
    *parents, leaf = path.split(".")
    node = changed
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[leaf]
    else:
        node[leaf] = value
    return changed


REFUSED = [
    ("probes.hybrid.unexpected", 1, "Extra inputs are not permitted"),
    ("probes.corruptions.clean_accuracy", 1.5, "less than or equal to 1"),
    ("probes.hybrid.f_rev", KeyError, "Field required"),
    ("probes.hybrid.curves.p_low", "high", "valid list"),
    ("model.weights_sha256", "not-a-hash", "pattern"),
    ("schema_version", "1.0", "schema version"),
    ("surprise", {}, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("path", "value", "message"), REFUSED, ids=[p for p, _, _ in REFUSED])
def test_reports_that_are_not_reports_are_refused(real_report: dict[str, Any], path: str, value: Any,
                                                  message: str) -> None:
    bad = _set(real_report, path, value)
    with pytest.raises(RobauditError, match=message):
        validate_report(bad)
    if path != "schema_version":
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, report_schema())


def test_check_validates_before_gating(real_report: dict[str, Any], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, policy = tmp_path / "r.json", tmp_path / "p.yaml"
    policy.write_text("rules:\n  - metric: probes.corruptions.clean_accuracy\n    min: 0\n")
    path.write_text(json.dumps(_set(real_report, "probes.corruptions.clean_accuracy", 1.5)))
    assert main(["check", str(path), "--policy", str(policy), "--junit", str(tmp_path / "j.xml")]) == 2
    assert "less than or equal to 1" in capsys.readouterr().err
    assert "<error" in (tmp_path / "j.xml").read_text()  # CI sees why, even on bad input


def test_the_schema_is_versioned_and_describes_every_probe() -> None:
    from robaudit.probes import PROBES

    schema = report_schema()
    assert schema["$id"].endswith(f"report-{SCHEMA_VERSION}.json")
    assert set(schema["$defs"]["Probes"]["properties"]) == set(PROBES.names())
    assert schema["$defs"]["Probes"]["additionalProperties"] is False
