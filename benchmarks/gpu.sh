#!/usr/bin/env bash
# The GPU benchmarks, on one CUDA device, offline (random weights, synthetic npz data), after
# the tests marked gpu (`tests`: the CUDA code paths against the CPU and analytic results):
#   1. the adversarial `paper` protocol on a CIFAR-10 WideResNet-28-10 (RobustBench's architecture),
#      in units of ADV_BATCH images (default the protocol's 100); with fewer images or restarts than
#      the protocol's 1000 × 5 it also prints the time projected to them (linear in images; from
#      fewer restarts an upper bound, as only restart 0 runs FMN and later restarts rerun
#      Brendel–Bethge only where an image's point changed); then (`units`) a 100-step run in one
#      unit of UNIT_IMAGES (500) images and (`stages`) where a 100-step run in units of 100 spends
#      its time, and one model pass's time per image in units of 100 to 1000 images:
#      the budget's at most 6,000 gradient passes per image (Brendel–Bethge 1000 × 5 restarts,
#      FMN 1000; about 3,500 on the embedded CNN) cost 1000 × that many × that time in model
#      arithmetic alone, whatever the attacks' own overhead;
#   2. the corruption probe (generation included) and the spectral probes (Fourier heat map,
#      band-pass) at 224 px on a torchvision ResNet-50, each against plain inference of its images,
#      and each corruption's generation time per image against the model's inference;
#   3. the hybrid probe against plain inference (embedded CNN, CIFAR ResNet18);
#   4. robaudit's adversarial curve against AutoAttack standard at one ε.
# Prints the figures and writes them into docs/benchmarks.md between the gpu-figures markers
# ("The latest `gpu.sh` run"; the curated sections above them stay).
#
#   bash benchmarks/gpu.sh            # QUICK=1 for a short check (fewer images and repeats);
#                                     # LEASE=1: sizes that fit one 15-minute device lease
#
# Every size below can be set from the environment (ADV_IMAGES=1000 ADV_RESTARTS=5 for the whole
# paper protocol); STEPS="paper spectral" runs only those steps; STEP_TIMEOUT=SECONDS (or
# TIMEOUT_<step>=SECONDS for one step) stops a step that runs longer and the script goes on to the
# next (a lease of GPU time); GPU_LOG=FILE keeps the log in FILE and adds to it (steps split over
# calls); DEVICE=cpu runs the same steps on the CPU (a check of the script).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python || command -v python3)}
DEVICE=${DEVICE:-cuda}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [[ "$DEVICE" == cuda ]]; then
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu.sh needs a CUDA device')" || exit 1
fi

if [[ "${LEASE:-0}" == "1" ]]; then  # one 15-minute device lease: ~8 min from the 2026-11-30 step times, ≤ 14 min
  : "${ADV_IMAGES:=100}" "${ADV_RESTARTS:=1}" "${PASS_UNITS:=100 250 500 1000}" "${SYNTH32:=4000}" "${SYNTH224:=256}"
  : "${PROBE_IMAGES:=64}" "${HEATMAP:=4}" "${BANDPASS:=128}" "${HYBRID_IMAGES:=1000}" "${AA_IMAGES:=48}" "${REPEATS:=2}"
  : "${TIMEOUT_paper:=200}" "${TIMEOUT_units:=120}" "${TIMEOUT_autoattack:=150}" "${STEP_TIMEOUT:=90}"
  : "${STEPS:=tests paper units stages corruptions spectral autoattack}"  # hybrid met its target on 2026-11-30
elif [[ "${QUICK:-0}" == "1" ]]; then
  : "${ADV_IMAGES:=20}" "${ADV_RESTARTS:=1}" "${PASS_UNITS:=100 250}" "${UNIT_IMAGES:=100}" "${SYNTH32:=1000}"
  : "${SYNTH224:=64}" "${PROBE_IMAGES:=16}"
  : "${HEATMAP:=4}" "${BANDPASS:=32}" "${HYBRID_IMAGES:=200}" "${AA_IMAGES:=16}" "${REPEATS:=2}"
else
  : "${ADV_IMAGES:=100}" "${ADV_RESTARTS:=5}" "${PASS_UNITS:=100 250 500 1000}" "${SYNTH32:=4000}" "${SYNTH224:=256}" "${PROBE_IMAGES:=64}"
  : "${HEATMAP:=16}" "${BANDPASS:=128}" "${HYBRID_IMAGES:=1000}" "${AA_IMAGES:=100}" "${REPEATS:=3}"
fi
: "${ADV_BATCH:=100}" "${UNIT_IMAGES:=500}" "${AA_NORMS:=linf l2}" "${STEP_TIMEOUT:=0}"
: "${STEPS:=tests paper units stages corruptions spectral hybrid autoattack}"
if [[ -n "${GPU_LOG:-}" ]]; then  # a log kept across calls (STEPS split over several), written to the doc whole
  LOG=$GPU_LOG; touch "$LOG"
else
  LOG=$(mktemp); trap 'rm -f "$LOG"' EXIT
fi
run() {  # print and log a command and its output (library warnings left out); a failure is logged, not fatal
  echo "\$ $*" | tee -a "$LOG"
  local start=$SECONDS status limit_name="TIMEOUT_$CURRENT"
  local limit=${!limit_name:-$STEP_TIMEOUT}
  timeout "$limit" "$PYTHON" "$@" 2>&1 | { grep -v -i -e warn -e "^  *import\|^  *warnings\." || true; } \
    | tee -a "$LOG"
  status=${PIPESTATUS[0]}
  if (( status == 124 )); then
    echo "(stopped after ${limit} s: the step's time limit)" | tee -a "$LOG"
  elif (( status != 0 )); then
    echo "(failed: exit $status)" | tee -a "$LOG"
  fi
  echo "(step: $((SECONDS - start)) s wall)" | tee -a "$LOG"
}
CURRENT=""
step() { CURRENT=$1; [[ " $STEPS " == *" $1 "* ]]; }

step tests && run -m pytest -q -m gpu -p no:cacheprovider -p no:warnings tests  # the CUDA code paths against the CPU and analytic results
step paper && run benchmarks/bench_probe.py --probe adversarial_spectrum --model wide_resnet28_10 \
  --data "synthetic:32:$SYNTH32" --device "$DEVICE" --set protocol=paper --set "n_images=$ADV_IMAGES" \
  --set "restarts=$ADV_RESTARTS" --set "batch_size=$ADV_BATCH" --batch-size "$ADV_BATCH" --set targeted=true
# The same 100-step paper run as `stages`, on UNIT_IMAGES images in one unit: its time per image
# against `stages`' (units of 100) says how much larger units save where steps are latency-bound.
step units && run benchmarks/bench_attack_stages.py --model wide_resnet28_10 --data "synthetic:32:$SYNTH32" \
  --device "$DEVICE" --set protocol=paper --set "n_images=$UNIT_IMAGES" --set "batch_size=$UNIT_IMAGES" \
  --batch-size "$UNIT_IMAGES" --set steps=100 --set restarts=1 --set targeted=true
# shellcheck disable=SC2086  # PASS_UNITS is a list of numbers
step stages && run benchmarks/bench_attack_stages.py --model wide_resnet28_10 --data "synthetic:32:$SYNTH32" \
  --device "$DEVICE" --set protocol=paper --set n_images=100 --set batch_size=100 --set steps=100 \
  --set restarts=1 --set targeted=true --pass-units $PASS_UNITS
step corruptions && run benchmarks/bench_corruptions.py --part probe split --model resnet50 \
  --data "synthetic:224:$SYNTH224" --probe-images "$PROBE_IMAGES" --repeats "$REPEATS" --batch-size 128 \
  --device "$DEVICE"
step spectral && run benchmarks/bench_spectral.py --model resnet50 --data "synthetic:224:$SYNTH224" \
  --batch-size 128 --heatmap-images "$HEATMAP" --bandpass-images "$BANDPASS" --repeats "$REPEATS" --device "$DEVICE"
step hybrid && run benchmarks/bench_hybrid.py --models embedded cifar_resnet18 --n-images "$HYBRID_IMAGES" \
  --seeds 1 --repeats "$REPEATS" --device "$DEVICE"
# shellcheck disable=SC2086  # AA_NORMS is a list of words
# On a GPU robaudit's sides take about as long as AutoAttack's: one run each per round.
step autoattack && run benchmarks/bench_autoattack.py --n-images "$AA_IMAGES" --norms $AA_NORMS --device "$DEVICE" \
  --robaudit-runs "${ROBAUDIT_RUNS:-1}"

if [[ "$DEVICE" == cuda ]]; then
  GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
else
  GPU="the CPU (DEVICE=cpu)"
fi
"$PYTHON" - "$LOG" "${GPU:-CUDA device}" <<'PY'
import datetime, pathlib, sys
log, gpu = pathlib.Path(sys.argv[1]).read_text(), sys.argv[2]
doc = pathlib.Path("docs/benchmarks.md")
start, end = "<!-- gpu-figures:start -->", "<!-- gpu-figures:end -->"
text = doc.read_text()
head, rest = text.split(start, 1)
tail = rest.split(end, 1)[1]
body = (f"\nMeasured {datetime.date.today().isoformat()} on {gpu} by `bash benchmarks/gpu.sh`:\n\n"
        f"```text\n{log.strip()}\n```\n")
doc.write_text(head + start + body + end + tail)
print(f"wrote the GPU figures into {doc}")
PY
