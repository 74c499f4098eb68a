"""Report cards for the compare tests: a real `robaudit score` card (tests/data/compare_card, the
embedded set, probes hybrid + adversarial_spectrum + corruptions) with chosen metric values."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

TEMPLATE = Path(__file__).parent / "data" / "compare_card"


def card(folder: Path, name: str, *, f_rev: float, f05: float, sizes: list[float], examined: int = 20,
         skipped: int = 4, corruption: dict[str, float] | None = None, kind: str | None = None,
         data_sha: str | None = None, norm: str = "linf", side: int = 32) -> Path:
    """Write a score folder whose report has these values; sizes are the attacked images' minimal sizes."""
    report: dict[str, Any] = copy.deepcopy(json.loads((TEMPLATE / "report.json").read_text()))
    report["model"].update(spec=f"py:zoo.py:{name}", name=name, extra={"kind": kind} if kind else {},
                           input_size=[3, side, side])
    if data_sha:
        report["data"]["sha256"] = data_sha
    hybrid = report["probes"]["hybrid"]
    hybrid["f_rev"]["cycles_per_pixel"].update(value=f_rev, mean=f_rev, std=f_rev / 10)
    grid = np.asarray(hybrid["grid"]["cycles_per_pixel"])
    hybrid["curves"]["difference"] = np.tanh((grid - f_rev) * 20).tolist()
    adv = report["probes"]["adversarial_spectrum"]
    adv["f_05"]["cycles_per_pixel"].update(value=f05, ci_low=f05 * 0.9, ci_high=f05 * 1.1)
    size = np.asarray(sizes, dtype=np.float32)
    finite = size[np.isfinite(size)]
    adv.update(norm=norm, n_examined=examined, n_skipped=skipped, n_attacked=len(size), n_success=len(finite))
    adv["size"] = {"median": float(np.median(finite)), "mean": float(finite.mean()), "std": float(finite.std())}
    report["config"]["probe_settings"]["adversarial_spectrum"]["norm"] = norm
    corr = report["probes"]["corruptions"]
    accuracy = corruption or {"gaussian_noise": 0.5, "fog": 0.6, "contrast": 0.7}
    corr["accuracy"] = {c: {"1": a, "3": a - 0.1} for c, a in accuracy.items()}
    corr["clean_accuracy"] = 0.8
    means = {c: a - 0.05 for c, a in accuracy.items()}
    corr["category_mean"] = {"low": means["fog"], "mid": None, "high": means["gaussian_noise"]}
    corr["overall_mean"] = float(np.mean(list(means.values())))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "report.md").write_text(f"# {name}\n")
    with np.load(TEMPLATE / "adversarial_spectrum.npz") as arrays:
        saved = {k: arrays[k] for k in arrays.files}
    saved["size"] = size
    saved["cumulative"] = np.clip(saved["cumulative"] ** (f05 / 0.07), 0, 1)
    np.savez(folder / "adversarial_spectrum.npz", **saved)
    return folder


def sweep(folder: Path, models: list[dict[str, Any]]) -> Path:
    """A sweep folder: sweep.json listing models (name, spec, status, reason, ...) under models/NAME."""
    rows = [{"spec": f"py:zoo.py:{m['name']}", "status": "done", "reason": None, "seconds": 1.0, "device": "cpu",
             "out": f"models/{m['name']}", **m} for m in models]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.json").write_text(json.dumps({"models": rows}))
    return folder


ZOO = [  # name, f_rev, f_0.5, minimal sizes (8 attacked of 10 examined), reference kind
    ("alpha", 0.10, 0.05, [0.01, 0.02, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09], None),
    ("beta", 0.20, 0.09, [0.005, 0.01, 0.02, 0.03, 0.035, 0.04, 0.05, 0.06], "blur"),
    ("gamma", 0.30, 0.12, [0.002, 0.004, 0.006, 0.01, 0.02, 0.025, 0.03, 0.04], "pca"),
    ("delta", 0.25, 0.15, [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.05, 0.1], "neural"),
]


def zoo_sweep(folder: Path, failed: str | None = "broken") -> Path:
    """A sweep of the ZOO models plus one failed model (no report)."""
    models: list[dict[str, Any]] = []
    for i, (name, f_rev, f05, sizes, kind) in enumerate(ZOO):
        card(folder / "models" / name, name, f_rev=f_rev, f05=f05, sizes=sizes, examined=10, skipped=2,
             kind=kind, corruption={"gaussian_noise": 0.6 - 0.1 * i, "fog": 0.5 + 0.05 * i, "contrast": 0.7})
        models.append({"name": name})
    if failed:
        models.append({"name": failed, "status": "failed", "reason": "RuntimeError: CUDA out of memory"})
    return sweep(folder, models)
