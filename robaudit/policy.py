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

import yaml

from robaudit.errors import RobauditError
from robaudit.registry import suggest


@dataclass
class Rule:
    metric: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        parts = ([f">= {self.min:g}"] if self.min is not None else []) + (
            [f"<= {self.max:g}"] if self.max is not None else []
        )
        return " and ".join(parts)


def load_policy(path: Path) -> list[Rule]:
    """Read and validate a policy file (yaml.safe_load). Bad input raises RobauditError."""
    if not path.is_file():
        raise RobauditError(f"policy file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RobauditError(f"policy {path} is not valid YAML{where}; fix the syntax") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
        raise RobauditError(f"policy {path} must have a non-empty 'rules:' list of {{metric, min/max}}")
    rules = []
    for i, item in enumerate(raw["rules"], 1):
        if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
            raise RobauditError(f"policy {path}: rule {i} needs a 'metric:' key (a dotted report key)")
        unknown = set(item) - {"metric", "min", "max"}
        if unknown:
            raise RobauditError(f"policy {path}: rule {i} has unknown key {sorted(unknown)[0]!r}; use metric, min, max")
        bounds = {k: item.get(k) for k in ("min", "max")}
        if all(v is None for v in bounds.values()):
            raise RobauditError(f"policy {path}: rule {i} ({item['metric']}) needs min or max")
        for key, value in bounds.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise RobauditError(f"policy {path}: rule {i} {key} must be a number, not {value!r}")
        rules.append(Rule(item["metric"], bounds["min"], bounds["max"]))
    return rules


def load_report(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RobauditError(f"report {path} does not exist; run `robaudit score --out DIR` first")
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RobauditError(f"report {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(report, dict) or "schema_version" not in report:
        raise RobauditError(f"{path} is not a robaudit report (no schema_version)")
    return report


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
            keys = flatten_keys(report)
            raise RobauditError(f"metric {metric!r} is not in the report.{suggest(metric, keys)}")
    return node


def evaluate(report: dict[str, Any], rules: list[Rule]) -> dict[str, Any]:
    """Apply rules: {'passed': bool, 'rules': [{metric, value, rule, passed, reason}]}."""
    rows = []
    for rule in rules:
        value = lookup(report, rule.metric)
        reason = ""
        if value is None:
            passed, reason = False, "metric is null (see the report for why)"
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise RobauditError(f"metric {rule.metric!r} is not a number (found {type(value).__name__})")
        elif math.isnan(value):
            passed, reason = False, "metric is NaN"
        else:
            passed = (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)
            reason = "" if passed else f"{value:g} violates {rule.describe()}"
        rows.append({"metric": rule.metric, "value": value, "rule": rule.describe(), "passed": passed,
                     "reason": reason})
    return {"passed": all(r["passed"] for r in rows), "rules": rows}


def write_junit(result: dict[str, Any], path: Path, name: str = "robaudit-policy") -> None:
    """One <testcase> per rule, <failure> for failed ones (JUnit XML as CI systems read it)."""
    failures = sum(not r["passed"] for r in result["rules"])
    suite = ET.Element("testsuite", name=name, tests=str(len(result["rules"])), failures=str(failures), errors="0")
    for row in result["rules"]:
        case = ET.SubElement(suite, "testcase", classname=name, name=f"{row['metric']} {row['rule']}")
        if not row["passed"]:
            ET.SubElement(case, "failure", message=row["reason"]).text = f"value={row['value']}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
