"""Minutes from nothing to a blur-vs-baseline comparison, through the CLI a user types.

Runs, each as its own ``python -m robaudit`` process with the defaults (embedded dataset, auto
recipe):

    robaudit train-reference baseline --out DIR/baseline.pt
    robaudit train-reference blur --sigma 1.5 --out DIR/blur.pt
    robaudit score --model file:DIR/<kind>.pt --probes hybrid --out DIR/card-<kind>

and prints, per model, the wall minutes and child-process CPU minutes of training and scoring
(target: ≤ 2 wall minutes per model on 2 CPU cores), each reference's f_rev (the blur
reference's must be lower: a blurred input leaves the model only low frequencies) and the total
(target: ≤ 5 minutes). Exit status 1 when the blur reference's f_rev is not lower.

    python benchmarks/bench_reference_minutes.py [--keep DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {"baseline": [], "blur": ["--sigma", "1.5"]}
TARGET_MODEL_MIN, TARGET_TOTAL_MIN = 2.0, 5.0


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def robaudit(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``python -m robaudit ARGS``; (wall seconds, CPU seconds) of that process."""
    wall, cpu = time.perf_counter(), children_cpu_seconds()
    done = subprocess.run([sys.executable, "-m", "robaudit", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"robaudit {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return time.perf_counter() - wall, children_cpu_seconds() - cpu


def f_rev(card: Path) -> tuple[float, str]:
    """The hybrid probe's f_rev (cycles per pixel) from a report card, as (bound, shown).

    A model that is low-biased at every grid frequency has no crossing (f_rev null): its f_rev
    lies below the grid's first non-zero frequency, which is then the bound; a model that never
    crosses the other way counts as +inf."""
    hybrid = json.loads((card / "report.json").read_text())["probes"]["hybrid"]
    value = hybrid["f_rev"]["cycles_per_pixel"]["value"]
    if value is not None:
        return float(value), f"{value:.4f}"
    reason = str(hybrid["f_rev"]["reason"] or "")
    if reason.startswith("always low-biased"):
        first = min(f for f in hybrid["grid"]["cycles_per_pixel"] if f > 0)
        return first, f"< {first:.3f}"
    return float("inf"), f"null ({reason[:40]})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="write checkpoints and cards here (default: a temp folder)")
    parser.add_argument("--threads", type=int, default=2, help="OMP/MKL threads of each robaudit process")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-reference-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "ROBAUDIT_HOME": str(folder / "home")}
    rows, total_start = {}, time.perf_counter()
    for kind, flags in MODELS.items():
        checkpoint, card = folder / f"{kind}.pt", folder / f"card-{kind}"
        train = robaudit(["train-reference", kind, *flags, "--out", str(checkpoint), "-q"], env)
        score = robaudit(["score", "--model", f"file:{checkpoint}", "--probes", "hybrid",
                          "--out", str(card), "-q"], env)
        rows[kind] = (train, score, f_rev(card))
    total = (time.perf_counter() - total_start) / 60
    print(f"{'model':<9} {'train wall':>10} {'train cpu':>9} {'score wall':>10} {'score cpu':>9} "
          f"{'min/model':>9} {'f_rev cpp':>11}")
    for kind, ((tw, tc), (sw, sc), (_, shown)) in rows.items():
        per_model = (tw + sw) / 60
        mark = "ok" if per_model <= TARGET_MODEL_MIN else f"over {TARGET_MODEL_MIN:g}"
        print(f"{kind:<9} {tw / 60:>9.2f}m {tc / 60:>8.2f}m {sw / 60:>9.2f}m {sc / 60:>8.2f}m "
              f"{per_model:>8.2f}m {shown:>11}  ({mark})")
    (base, _), (blur, _) = rows["baseline"][2], rows["blur"][2]
    lower = blur < base  # a bound below the baseline's crossing counts as lower
    print(f"blur f_rev lower than baseline's: {'yes' if lower else 'NO'}")
    print(f"total {total:.2f} min (target ≤ {TARGET_TOTAL_MIN:g}); files in {folder}")
    return 0 if lower else 1


if __name__ == "__main__":
    sys.exit(main())
