"""DIR/sweep.json: each model's status, seconds and device, rewritten atomically after every model.

```json
{"format": "robaudit-sweep", "format_version": 1, "zoo": "/abs/zoo.yaml", "executor": "local",
 "started": "...", "updated": "...", "finished": true,
 "counts": {"done": 2, "failed": 1, "skipped": 0},
 "leaderboard_error": null,
 "models": [{"name": "cnn", "spec": "embedded:cnn", "status": "done", "reason": null,
             "seconds": 12.3, "device": "cpu (x86_64)", "out": "models/cnn",
             "fingerprint": "…", "resumed": false}]}
```
``status``: done, failed (``reason`` is one line) or skipped (no result: not run yet while the
sweep is running, the sweep stopped before it ran, or it was interrupted while the model ran;
``reason`` says which). A done model whose options and local input files are unchanged and whose
report.json is still there is not run again (``resumed``: true). ``leaderboard_files`` names the
leaderboard files the sweep wrote (removed when a later leaderboard cannot be written).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from robaudit.atomic import atomic_write_text
from robaudit.sweep.plan import ModelJob
from robaudit.sweep.worker import JobResult

FORMAT = "robaudit-sweep"
STATUSES = ("done", "failed", "skipped")
NOT_RUN_YET = "not run yet"
STOPPED = "the sweep stopped before this model ran"
INTERRUPTED = "the sweep was interrupted while this model ran; run the same sweep again to resume it"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SweepState:
    """The rows of sweep.json, keyed by model name, in the zoo's order."""

    def __init__(self, folder: Path, zoo: Path, executor: str, jobs: list[ModelJob]) -> None:
        self.folder, self.path = folder, folder / "sweep.json"
        self.header: dict[str, Any] = {"format": FORMAT, "format_version": 1, "zoo": str(zoo), "executor": executor,
                                       "started": _now(), "finished": False, "leaderboard_error": None}
        record = self._earlier_record()
        files = record.get("leaderboard_files")
        self.header["leaderboard_files"] = [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
        earlier = self._earlier(record)
        self.rows: dict[str, dict[str, Any]] = {}
        for job in jobs:
            row = earlier.get(job.name)
            if row and self.finished_before(row, job):
                self.rows[job.name] = {**row, "resumed": True}
            else:
                self.rows[job.name] = {"name": job.name, "spec": job.spec, "status": "skipped", "reason": NOT_RUN_YET,
                                       "seconds": None, "device": None, "out": f"models/{job.name}",
                                       "fingerprint": job.fingerprint, "resumed": False}

    def _earlier_record(self) -> dict[str, Any]:
        """The previous run's sweep.json, or {} when there is none (or it is unreadable)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _earlier(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        try:
            return {row["name"]: row for row in record.get("models", [])}
        except (KeyError, TypeError):
            return {}

    def finished_before(self, row: dict[str, Any], job: ModelJob) -> bool:
        """Done in an earlier run, with the same options and input files, and its report card still there."""
        return (row.get("status") == "done" and row.get("fingerprint") == job.fingerprint
                and (job.config.out / "report.json").is_file())

    def todo(self, jobs: list[ModelJob]) -> list[ModelJob]:
        return [job for job in jobs if self.rows[job.name]["status"] != "done"]

    def record(self, result: JobResult) -> None:
        self.rows[result.name].update(status=result.status, reason=result.reason, seconds=round(result.seconds, 3),
                                      device=result.device, fingerprint=result.fingerprint, resumed=False)

    def finish(self, interrupted: bool = False, running: set[str] | frozenset[str] = frozenset()) -> None:
        """Models without a result stay skipped, with the reason: interrupted while running (the
        names in ``running``), or stopped before they ran."""
        for name, row in self.rows.items():
            if row["reason"] == NOT_RUN_YET:
                row["reason"] = INTERRUPTED if name in running else STOPPED
        self.header["finished"] = not interrupted

    def counts(self) -> dict[str, int]:
        return {status: sum(row["status"] == status for row in self.rows.values()) for status in STATUSES}

    def as_json(self) -> dict[str, Any]:
        return {**self.header, "updated": _now(), "counts": self.counts(), "models": list(self.rows.values())}

    def write(self) -> None:
        atomic_write_text(self.path, json.dumps(self.as_json(), indent=2))
