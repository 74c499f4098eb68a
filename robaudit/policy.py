"""CI gate: min/max thresholds on any report metric, a pass/fail table and JUnit XML.

Policy format (YAML)::

    rules:
      - metric: probes.hybrid.f_rev.cycles_per_pixel.mean
        max: 0.2
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from robaudit.config import read_yaml_file
from robaudit.errors import RobauditError
from robaudit.registry import suggest


@dataclass
class Rule:
    """One gate on a report metric: bounds, an exact (e.g. boolean) value, or a bound in the
    metric's better direction (``better_than``: ≥ for higher-is-better, ≤ for lower-is-better)."""

    metric: str
    min: float | None = None
    max: float | None = None
    equals: bool | float | None = None
    better_than: float | None = None

    def describe(self, direction: str | None = None) -> str:
        parts = ([f">= {self.min:g}"] if self.min is not None else []) + (
            [f"<= {self.max:g}"] if self.max is not None else [])
        if self.equals is not None:
            parts.append(f"== {str(self.equals).lower() if isinstance(self.equals, bool) else self.equals}")
        if self.better_than is not None:
            parts.append(f"{'>=' if direction == 'higher' else '<='} {self.better_than:g}")
        return " and ".join(parts)


RULE_KEYS = ("metric", "min", "max", "equals", "better_than")


def load_policy(path: Path) -> list[Rule]:
    """Read and validate a policy file (yaml.safe_load). Bad input raises RobauditError."""
    raw = read_yaml_file(path, "policy")
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
        raise RobauditError(f"policy {path} must have a non-empty 'rules:' list of {{metric, min/max}}")
    return [_rule(item, i, path) for i, item in enumerate(raw["rules"], 1)]


def _rule(item: Any, i: int, path: Path) -> Rule:
    """One validated rule: numeric bounds finite with min ≤ max; equals a bool or number."""
    where = f"policy {path}: rule {i}"
    if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
        raise RobauditError(f"{where} needs a 'metric:' key (a dotted report key)")
    unknown = sorted(set(item) - set(RULE_KEYS))
    if unknown:
        raise RobauditError(f"{where} has unknown key {unknown[0]!r}; use {', '.join(RULE_KEYS)}")
    if all(item.get(k) is None for k in RULE_KEYS[1:]):
        raise RobauditError(f"{where} ({item['metric']}) needs min, max, equals or better_than")
    for key in ("min", "max", "better_than"):
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            raise RobauditError(f"{where} {key} must be a finite number, not {value!r}")
    if item.get("min") is not None and item.get("max") is not None and item["min"] > item["max"]:
        raise RobauditError(f"{where} has min {item['min']} > max {item['max']}; no value can pass")
    equals = item.get("equals")
    if equals is not None and not isinstance(equals, bool | int | float):
        raise RobauditError(f"{where} equals must be true, false or a number, not {equals!r}")
    return Rule(item["metric"], item.get("min"), item.get("max"), equals, item.get("better_than"))


def load_report(path: Path) -> dict[str, Any]:
    """A report.json checked against this version's schema (RobauditError otherwise)."""
    from robaudit.report_schema import validate_report

    if path.is_dir() and (path / "report.json").is_file():  # a score folder: its report
        path = path / "report.json"
    if path.is_dir():
        raise RobauditError(f"report {path} is a folder without report.json; give a score folder or its report.json")
    if not path.is_file():
        raise RobauditError(f"report {path} does not exist; run `robaudit score --out DIR` first")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RobauditError(f"report {path} is not a text file; give the report.json of a score run") from None
    except json.JSONDecodeError as exc:
        raise RobauditError(f"report {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(report, dict) or "schema_version" not in report:
        raise RobauditError(f"{path} is not a robaudit report (no schema_version)")
    validate_report(report, f"report {path}")
    return report


def check_metrics_exist(rules: list[Rule], probes: list[str]) -> None:
    """Refuse, before any work, a rule whose metric no report of a run of ``probes`` can hold
    (checked against the report schema: a typo fails now, not after the audit)."""
    from robaudit.report_schema import report_schema

    schema = report_schema()
    for rule in rules:
        parts = rule.metric.split(".")
        if parts[0] == "probes" and len(parts) > 1 and parts[1] not in probes:
            raise RobauditError(f"policy metric {rule.metric!r} needs probe {parts[1]!r}, which this run does not "
                                f"run (probes: {', '.join(probes)}); add it to --probes or drop the rule")
        if not _schema_has(schema, schema, parts):
            raise RobauditError(f"policy metric {rule.metric!r} is not a key of a robaudit report; "
                                "see report.json or docs/report.schema.json for the keys")


def _schema_has(root: dict[str, Any], node: Any, parts: list[str]) -> bool:
    """Whether the JSON Schema ``node`` admits the dotted key ``parts`` ($ref, anyOf, properties,
    additionalProperties and array items followed; an unconstrained node admits anything)."""
    if not isinstance(node, dict):
        return bool(node)
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    branches = node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", [])
    if branches:
        return any(_schema_has(root, branch, parts) for branch in branches)
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head in node.get("properties", {}):
        return _schema_has(root, node["properties"][head], rest)
    if "items" in node:
        return head.isdigit() and _schema_has(root, node["items"], rest)
    extra = node.get("additionalProperties", node.get("type") in (None, "object") and "properties" not in node)
    return _schema_has(root, extra, rest) if extra is not False else False


def flatten_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted path to a leaf in a nested dict (list items by index)."""
    if isinstance(node, dict):
        return [k for key, v in node.items() for k in flatten_keys(v, f"{prefix}{key}.")]
    if isinstance(node, list):
        return [k for i, v in enumerate(node) for k in flatten_keys(v, f"{prefix}{i}.")]
    return [prefix[:-1]]


def lookup(report: dict[str, Any], metric: str) -> Any:
    """The value at a dotted key; unknown keys raise RobauditError with close matches."""
    node: Any = report
    for part in metric.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            from robaudit.probes import PROBES

            probes = report.get("probes", {})
            parts = metric.split(".")
            if len(parts) > 1 and parts[0] == "probes" and parts[1] not in probes and parts[1] in PROBES:
                ran = ", ".join(probes) or "none"
                raise RobauditError(f"metric {metric!r} needs the {parts[1]} probe, which this report did not run "
                                    f"(probes run: {ran}); add it to `score --probes` or drop the rule")
            keys = flatten_keys(report)
            raise RobauditError(f"metric {metric!r} is not in the report.{suggest(metric, keys)}")
    return node


def evaluate(report: dict[str, Any], rules: list[Rule]) -> dict[str, Any]:
    """Apply rules: {'passed': bool, 'rules': [{metric, value, rule, passed, reason, unit, label}]}."""
    from robaudit.report_schema import metric_infos

    infos = metric_infos()
    rows = []
    for rule in rules:
        value = lookup(report, rule.metric)
        info = infos.get(rule.metric)
        direction = info.direction if info else None
        if rule.better_than is not None and direction is None:
            raise RobauditError(f"metric {rule.metric!r} has no better direction; use min or max")
        passed, reason = _judge(rule, value, direction)
        rows.append({"metric": rule.metric, "value": value, "rule": rule.describe(direction), "passed": passed,
                     "reason": reason, "unit": info.unit if info else None, "label": info.label if info else None})
    return {"passed": all(r["passed"] for r in rows), "rules": rows}


def _judge(rule: Rule, value: Any, direction: str | None) -> tuple[bool, str]:
    """(passed, reason) for one rule on one value; a non-number under a numeric rule is bad input."""
    if value is None:
        return False, "metric is null (see the report for why)"
    if rule.equals is not None:
        if isinstance(value, bool) != isinstance(rule.equals, bool):
            raise RobauditError(f"metric {rule.metric!r} is {type(value).__name__}; equals must match it")
        passed = value == rule.equals
        return passed, "" if passed else f"{value} is not {rule.equals}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RobauditError(f"metric {rule.metric!r} is not a number (found {type(value).__name__}); "
                            "use equals: for true/false metrics")
    if math.isnan(value):
        return False, "metric is NaN"
    low, high = rule.min, rule.max
    if rule.better_than is not None and direction == "higher":
        low = rule.better_than if low is None else max(low, rule.better_than)
    if rule.better_than is not None and direction == "lower":
        high = rule.better_than if high is None else min(high, rule.better_than)
    passed = (low is None or value >= low) and (high is None or value <= high)
    return passed, "" if passed else f"{value:g} violates {rule.describe(direction)}"


def write_junit(result: dict[str, Any], path: Path, name: str = "robaudit-policy") -> None:
    """One <testcase> per rule, <failure> for failed ones (JUnit XML as CI systems read it)."""
    failures = sum(not r["passed"] for r in result["rules"])
    suite = ET.Element("testsuite", name=name, tests=str(len(result["rules"])), failures=str(failures), errors="0")
    for row in result["rules"]:
        case = ET.SubElement(suite, "testcase", classname=name, name=f"{row['metric']} {row['rule']}")
        if not row["passed"]:
            ET.SubElement(case, "failure", message=row["reason"]).text = f"value={row['value']}"
    _write_xml(suite, path)


def write_junit_error(message: str, path: Path, name: str = "robaudit-policy") -> None:
    """A JUnit file with one errored test case, for bad input (exit 2): CI shows why it failed."""
    suite = ET.Element("testsuite", name=name, tests="1", failures="0", errors="1")
    case = ET.SubElement(suite, "testcase", classname=name, name="robaudit check")
    ET.SubElement(case, "error", message=message).text = message
    _write_xml(suite, path)


def _write_xml(suite: ET.Element, path: Path) -> None:
    from robaudit.atomic import atomic_write_bytes

    atomic_write_bytes(path, ET.tostring(suite, encoding="utf-8", xml_declaration=True))
