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
sweep is running, or the sweep stopped before it ran; ``reason`` says which). A done model whose
options are unchanged and whose report.json is still there is not run again (``resumed``: true).
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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SweepState:
    """The rows of sweep.json, keyed by model name, in the zoo's order."""

    def __init__(self, folder: Path, zoo: Path, executor: str, jobs: list[ModelJob]) -> None:
        self.folder, self.path = folder, folder / "sweep.json"
        self.header: dict[str, Any] = {"format": FORMAT, "format_version": 1, "zoo": str(zoo), "executor": executor,
                                       "started": _now(), "finished": False, "leaderboard_error": None}
        earlier = self._earlier()
        self.rows: dict[str, dict[str, Any]] = {}
        for job in jobs:
            row = earlier.get(job.name)
            if row and self.finished_before(row, job):
                self.rows[job.name] = {**row, "resumed": True}
            else:
                self.rows[job.name] = {"name": job.name, "spec": job.spec, "status": "skipped", "reason": NOT_RUN_YET,
                                       "seconds": None, "device": None, "out": f"models/{job.name}",
                                       "fingerprint": job.fingerprint, "resumed": False}

    def _earlier(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
            return {row["name"]: row for row in data.get("models", [])}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def finished_before(self, row: dict[str, Any], job: ModelJob) -> bool:
        """Done in an earlier run, with the same options, and its report card still there."""
        return (row.get("status") == "done" and row.get("fingerprint") == job.fingerprint
                and (job.config.out / "report.json").is_file())

    def todo(self, jobs: list[ModelJob]) -> list[ModelJob]:
        return [job for job in jobs if self.rows[job.name]["status"] != "done"]

    def record(self, result: JobResult) -> None:
        self.rows[result.name].update(status=result.status, reason=result.reason, seconds=round(result.seconds, 3),
                                      device=result.device, fingerprint=result.fingerprint, resumed=False)

    def finish(self, interrupted: bool = False) -> None:
        """Models that never ran stay skipped, with the reason that the sweep stopped."""
        for row in self.rows.values():
            if row["reason"] == NOT_RUN_YET:
                row["reason"] = STOPPED
        self.header["finished"] = not interrupted

    def counts(self) -> dict[str, int]:
        return {status: sum(row["status"] == status for row in self.rows.values()) for status in STATUSES}

    def as_json(self) -> dict[str, Any]:
        return {**self.header, "updated": _now(), "counts": self.counts(), "models": list(self.rows.values())}

    def write(self) -> None:
        atomic_write_text(self.path, json.dumps(self.as_json(), indent=2))
