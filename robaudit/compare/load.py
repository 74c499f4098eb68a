"""Read the models to compare from sweep folders (sweep.json + models/NAME/) or score folders
(report.json), and check that their reports were measured under the same settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robaudit.errors import RobauditError, one_line

# Probe settings that do not change what a probe measures (only how its report is annotated).
IGNORED_SETTINGS = {"corruptions.baseline_report"}


@dataclass
class ModelEntry:
    """One leaderboard row's source: a model's sweep record and, when it ran, its report."""

    name: str
    spec: str
    status: str  # done | failed | skipped
    reason: str | None
    folder: Path  # the model's report folder (may not exist for a failed model)
    report: dict[str, Any] | None = None
    seconds: float | None = None
    device: str | None = None
    settings_note: str = ""  # with --allow-mixed: the settings this row used where models differ
    extra: dict[str, Any] = field(default_factory=dict)  # joined model_info columns
    _arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    source: Path = Path()  # the sweep or score folder it was read from

    @property
    def probes(self) -> dict[str, Any]:
        return {} if self.report is None else self.report.get("probes", {})

    def arrays(self, probe: str) -> dict[str, np.ndarray]:
        """The probe's <probe>.npz arrays ({} when absent), read once."""
        if probe not in self._arrays:
            path = self.folder / f"{probe}.npz"
            self._arrays[probe] = _read_npz(path) if self.report is not None and path.is_file() else {}
        return self._arrays[probe]


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise RobauditError(f"cannot read {path}: {one_line(exc)}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RobauditError(f"cannot read {path}: {one_line(exc)}") from None
    if not isinstance(value, dict):
        raise RobauditError(f"{path} does not hold a JSON object")
    return value


def _from_report(folder: Path, name: str) -> ModelEntry:
    report = _read_json(folder / "report.json")
    try:
        spec = str(report["model"]["spec"])
    except (KeyError, TypeError):
        raise RobauditError(f"{folder / 'report.json'} is not a robaudit report (no model.spec)") from None
    return ModelEntry(name, spec, "done", None, folder, report)


def _from_sweep(folder: Path) -> list[ModelEntry]:
    record = _read_json(folder / "sweep.json")
    entries = []
    for row in record.get("models", []):
        model_folder = folder / str(row.get("out", f"models/{row['name']}"))
        status = str(row.get("status", "done"))
        if status == "done" and (model_folder / "report.json").is_file():
            entry = _from_report(model_folder, str(row["name"]))
        else:
            if status == "done":
                status, row = "failed", {**row, "reason": f"{model_folder / 'report.json'} is missing"}
            entry = ModelEntry(str(row["name"]), str(row.get("spec", "")), status, row.get("reason"), model_folder)
        entry.spec = str(row.get("spec") or entry.spec)
        entry.seconds, entry.device = row.get("seconds"), row.get("device")
        entries.append(entry)
    return entries


def _without_repeats(entries: list[ModelEntry]) -> list[ModelEntry]:
    """The entries with each model folder once (a source given twice, or a sweep and one of its
    model folders, would count a model twice in the correlations)."""
    seen: set[Path] = set()
    kept = []
    for entry in entries:
        folder = entry.folder.resolve()
        if folder not in seen:
            seen.add(folder)
            kept.append(entry)
    return kept


def load_sources(sources: list[Path]) -> list[ModelEntry]:
    """Entries from each source: a sweep folder, a score folder or a report.json file. Names are
    the sweep's model names or the score folder's name; a repeated name gets its source folder's
    name appended. A model folder reached twice is read once."""
    entries: list[ModelEntry] = []
    for source in sources:
        path = Path(source).expanduser()
        if path.is_file() and path.name == "report.json":
            path = path.parent
        if (path / "sweep.json").is_file():
            found = _from_sweep(path)
        elif (path / "report.json").is_file():
            found = [_from_report(path, path.resolve().name)]
        else:
            raise RobauditError(f"{path} is neither a sweep folder (sweep.json) nor a score folder (report.json)")
        for entry in found:
            entry.source = path.resolve()
        entries += found
    entries = _without_repeats(entries)
    seen: dict[str, int] = {}
    for entry in entries:
        seen[entry.name] = seen.get(entry.name, 0) + 1
    for entry in entries:
        if seen[entry.name] > 1:
            origin = entry.source.parent if entry.source.name == entry.name else entry.source  # score folder's parent
            entry.name = f"{entry.name}@{origin.name}"
    if not entries:
        raise RobauditError("nothing to compare: the sources list no models")
    return entries


def settings_of(report: dict[str, Any]) -> dict[str, str]:
    """What a report was measured under, flattened to 'key' → JSON text: the data's identity,
    the seed and every probe setting (the adversarial protocol and norm among them)."""
    data = report["data"]
    flat = {f"data.{key}": json.dumps(data.get(key)) for key in ("spec", "split", "sha256")}
    flat["seed"] = json.dumps(report["config"]["seed"])
    for probe, settings in report["config"].get("probe_settings", {}).items():
        for key, value in (settings or {}).items():
            if f"{probe}.{key}" not in IGNORED_SETTINGS:
                flat[f"{probe}.{key}"] = json.dumps(value, sort_keys=True)
    return flat


def check_settings(entries: list[ModelEntry], allow_mixed: bool) -> list[str]:
    """Refuse (RobauditError) reports measured under different settings, naming the first
    differences, unless allow_mixed; then note on each row the values of the keys that differ.
    A setting counts only between reports that both have it (a probe one model skipped is no
    difference). Returns the keys that differ."""
    measured = [(e, settings_of(e.report)) for e in entries if e.report is not None]
    differing: list[str] = []
    for key in sorted({k for _, flat in measured for k in flat}):
        values = {flat[key] for _, flat in measured if key in flat}
        if len(values) > 1:
            differing.append(key)
    if differing and not allow_mixed:
        described = "; ".join(_describe(key, measured) for key in differing[:3])
        more = f" (and {len(differing) - 3} more)" if len(differing) > 3 else ""
        raise RobauditError(f"the reports were measured under different settings: {described}{more}; "
                            "compare like with like or pass --allow-mixed")
    for entry, flat in measured:
        entry.settings_note = ", ".join(f"{k}={_short(flat[k])}" for k in differing if k in flat)
    return differing


def _short(value: str) -> str:
    text = value.strip('"')
    return text[:12] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else text


def _describe(key: str, measured: list[tuple[ModelEntry, dict[str, str]]]) -> str:
    by_value: dict[str, list[str]] = {}
    for entry, flat in measured:
        if key in flat:
            by_value.setdefault(_short(flat[key]), []).append(entry.name)
    parts = [f"{value} ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})" for value, names in by_value.items()]
    return f"{key} differs: " + " vs ".join(parts)
