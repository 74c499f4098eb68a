"""RobustBench's per-model model_info JSON files (model_info/<dataset>/<threat>/<Name>.json),
joined to leaderboard rows by model name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robaudit.compare.load import ModelEntry
from robaudit.errors import RobauditError, one_line


def _percent(value: Any) -> float | None:
    """RobustBench writes accuracies as percent strings ("89.69"); → fraction 0.8969."""
    try:
        return float(value) / 100.0
    except (TypeError, ValueError):
        return None


def read_model_info(path: Path) -> dict[str, dict[str, Any]]:
    """{model name (file stem): {clean_acc, autoattack_acc (fractions), reference, link, eps}}
    from one model_info JSON file or a folder searched recursively for them."""
    path = Path(path).expanduser()
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise RobauditError(f"--model-info {path}: no model_info JSON files there")
    out: dict[str, dict[str, Any]] = {}
    for file in files:
        try:
            info = json.loads(file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RobauditError(f"cannot read model_info file {file}: {one_line(exc)}") from None
        if not isinstance(info, dict) or "clean_acc" not in info:
            continue
        venue = f" ({info['venue']})" if info.get("venue") else ""
        out[file.stem] = {
            "clean_acc": _percent(info.get("clean_acc")), "autoattack_acc": _percent(info.get("autoattack_acc")),
            "reference": f"{info.get('name') or file.stem}{venue}", "link": info.get("link"), "eps": info.get("eps"),
        }
    if not out:
        raise RobauditError(f"--model-info {path}: no file there has RobustBench's clean_acc field")
    return out


def join_model_info(entries: list[ModelEntry], info: dict[str, dict[str, Any]]) -> int:
    """Attach info to entries whose name, or the last part of whose spec, names a model_info
    file; returns how many matched."""
    matched = 0
    for entry in entries:
        for key in (entry.name, entry.spec.rsplit("/", 1)[-1], entry.spec.rsplit(":", 1)[-1]):
            if key in info:
                entry.extra.update(info[key])
                matched += 1
                break
    return matched
