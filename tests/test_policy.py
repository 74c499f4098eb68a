"""The CI gate: thresholds, null metrics, JUnit XML and bad policies."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from robaudit.errors import RobauditError
from robaudit.policy import evaluate, load_policy, lookup, write_junit

REPORT = {"schema_version": "1.0", "probes": {"hybrid": {"f_rev": {"cycles_per_pixel": {"mean": 0.15, "value": None}},
                                                          "curves": {"p_low": [0.1, 0.9]}}}}


def policy(tmp: Path, text: str) -> Path:
    path = tmp / "policy.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("rules", "passed"),
    [
        ("- {metric: probes.hybrid.f_rev.cycles_per_pixel.mean, max: 0.2}", True),
        ("- {metric: probes.hybrid.f_rev.cycles_per_pixel.mean, max: 0.1}", False),
        ("- {metric: probes.hybrid.f_rev.cycles_per_pixel.mean, min: 0.1, max: 0.2}", True),
        ("- {metric: probes.hybrid.f_rev.cycles_per_pixel.mean, min: 0.15}", True),  # bounds are inclusive
        ("- {metric: probes.hybrid.curves.p_low.1, min: 0.95}", False),
        ("- {metric: probes.hybrid.f_rev.cycles_per_pixel.value, max: 1}", False),  # null fails
    ],
)
def test_rules_pass_and_fail(tmp_path: Path, rules: str, passed: bool) -> None:
    result = evaluate(REPORT, load_policy(policy(tmp_path, f"rules:\n  {rules}\n")))
    assert result["passed"] is passed


BAD = [
    ("rules: [", "not valid YAML"),
    ("rules: []", "non-empty 'rules:'"),
    ("something: else", "non-empty 'rules:'"),
    ("rules:\n  - {max: 1}", "needs a 'metric:'"),
    ("rules:\n  - {metric: a.b}", "needs min, max, equals or better_than"),
    ("rules:\n  - {metric: a.b, max: high}", "must be a finite number"),
    ("rules:\n  - {metric: a.b, max: .nan}", "must be a finite number"),
    ("rules:\n  - {metric: a.b, min: 2, max: 1}", "min 2 > max 1"),
    ("rules:\n  - {metric: a.b, equals: maybe}", "equals must be true, false or a number"),
    ("rules:\n  - {metric: a.b, maximum: 1}", "unknown key 'maximum'"),
    ("!!python/object/apply:os.system ['echo unsafe']", "not valid YAML"),  # safe_load refuses tags
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_policies_are_rejected_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RobauditError, match=message) as info:
        load_policy(policy(tmp_path, text))
    assert "\n" not in str(info.value)


def test_unknown_metric_suggests_close_keys() -> None:
    with pytest.raises(RobauditError, match="Did you mean: probes.hybrid.f_rev.cycles_per_pixel.mean"):
        lookup(REPORT, "probes.hybrid.f_rev.cycles_per_pixel.maen")


def test_junit_has_one_case_per_rule_and_failures_marked(tmp_path: Path) -> None:
    rules = load_policy(policy(tmp_path, "rules:\n  - {metric: probes.hybrid.f_rev.cycles_per_pixel.mean, max: 0.2}\n"
                                         "  - {metric: probes.hybrid.curves.p_low.0, min: 0.5}\n"))
    write_junit(evaluate(REPORT, rules), tmp_path / "junit.xml")
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.find("failure") is not None for c in cases] == [False, True]


def test_a_boolean_metric_is_gated_with_equals() -> None:
    from robaudit.policy import Rule, evaluate

    report = {"probes": {"adversarial_spectrum": {"suspect": True, "success_rate": 1.0}}}
    assert not evaluate(report, [Rule("probes.adversarial_spectrum.suspect", equals=False)])["passed"]
    assert evaluate(report, [Rule("probes.adversarial_spectrum.suspect", equals=True)])["passed"]
    with pytest.raises(RobauditError, match="equals must match"):
        evaluate(report, [Rule("probes.adversarial_spectrum.success_rate", equals=True)])


def test_the_example_policy_names_declared_metrics() -> None:
    """Every key in examples/policy.yaml is a metric some probe declares, with the unit and direction used."""
    from robaudit.policy import load_policy
    from robaudit.report_schema import metric_infos

    rules = load_policy(Path(__file__).parents[1] / "examples" / "policy.yaml")
    declared = metric_infos()
    assert all(rule.metric in declared for rule in rules), [r.metric for r in rules if r.metric not in declared]
    assert declared["probes.bandpass.f_lp50.cycles_per_pixel"].unit == "cycles_per_pixel"
    assert declared["probes.corruptions.overall_mean"].direction == "higher"


def test_a_zero_bound_holds_beside_better_than() -> None:
    """`max: 0` is a bound like any other: `better_than` must not replace it."""
    from robaudit.policy import Rule, evaluate

    report = {"probes": {"corruptions": {"relative_error": {"mce": 0.3}, "overall_mean": 0.5}}}
    assert not evaluate(report, [Rule("probes.corruptions.relative_error.mce", max=0, better_than=0.5)])["passed"]
    assert evaluate(report, [Rule("probes.corruptions.relative_error.mce", max=0.4, better_than=0.5)])["passed"]
    assert not evaluate(report, [Rule("probes.corruptions.overall_mean", min=0.6, better_than=0.1)])["passed"]


def test_a_rule_on_a_probe_the_report_did_not_run_names_that_probe() -> None:
    with pytest.raises(RobauditError, match="needs the bandpass probe, which this report did not run"):
        lookup(REPORT, "probes.bandpass.f_lp50.cycles_per_pixel")
    with pytest.raises(RobauditError, match="Did you mean: probes.hybrid"):  # a misspelt probe: close matches
        lookup(REPORT, "probes.hybird.f_rev.cycles_per_pixel.mean")


def test_check_takes_a_score_folder_for_its_report(tmp_path: Path) -> None:
    from robaudit.policy import load_report

    with pytest.raises(RobauditError, match="is a folder without report.json"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(RobauditError, match="report.json is not a robaudit report"):
        load_report(tmp_path)
