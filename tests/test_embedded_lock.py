"""The embedded model's first training is locked: concurrent first runs train it once and reuse it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LOAD = "from robaudit.models import load_model; print(load_model('embedded:cnn').info.weights_sha256)"


@pytest.mark.slow
def test_two_first_runs_train_once_and_agree(tmp_path: Path) -> None:
    env = {**os.environ, "ROBAUDIT_HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", LOAD], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    hashes = [p.communicate(timeout=600)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and hashes[0] == hashes[1]


def test_a_truncated_cached_model_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robaudit.embedded import embedded_model_path
    from robaudit.errors import RobauditError
    from robaudit.models import load_model

    monkeypatch.setenv("ROBAUDIT_HOME", str(tmp_path))
    path = embedded_model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(RobauditError, match="delete it and run again"):
        load_model("embedded:cnn")
