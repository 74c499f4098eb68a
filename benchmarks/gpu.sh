#!/usr/bin/env bash
# The GPU benchmarks, on one CUDA device, offline (random weights, synthetic npz data):
#   1. the adversarial `paper` protocol on a CIFAR-10 WideResNet-28-10 (RobustBench's architecture);
#   2. the corruption probe (generation included) and the spectral probes (Fourier heat map,
#      band-pass) at 224 px on a torchvision ResNet-50, each against plain inference of its images;
#   3. robaudit's adversarial curve against AutoAttack standard at one ε.
# Prints the figures and writes them into docs/benchmarks.md between the gpu-figures markers.
#
#   bash benchmarks/gpu.sh            # QUICK=1 for a short check (fewer images and repeats)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu.sh needs a CUDA device')"

if [[ "${QUICK:-0}" == "1" ]]; then
  ADV_IMAGES=20; SYNTH32=1000; SYNTH224=64; PROBE_IMAGES=16; HEATMAP=4; BANDPASS=32; AA_IMAGES=16; REPEATS=2
else
  ADV_IMAGES=100; SYNTH32=4000; SYNTH224=256; PROBE_IMAGES=64; HEATMAP=16; BANDPASS=128; AA_IMAGES=100; REPEATS=3
fi
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
run() {  # print and log a command and its output (library warnings left out)
  echo "\$ $*" | tee -a "$LOG"
  "$PYTHON" "$@" 2>&1 | { grep -v -i -e warn -e "^  *import\|^  *warnings\." || true; } | tee -a "$LOG"
}

run benchmarks/bench_probe.py --probe adversarial_spectrum --model wide_resnet28_10 \
  --data "synthetic:32:$SYNTH32" --set protocol=paper --set "n_images=$ADV_IMAGES" --set targeted=true
run benchmarks/bench_corruptions.py --part probe --model resnet50 --data "synthetic:224:$SYNTH224" \
  --probe-images "$PROBE_IMAGES" --repeats "$REPEATS" --batch-size 128
run benchmarks/bench_spectral.py --model resnet50 --data "synthetic:224:$SYNTH224" --batch-size 128 \
  --heatmap-images "$HEATMAP" --bandpass-images "$BANDPASS" --repeats "$REPEATS"
run benchmarks/bench_hybrid.py --models embedded cifar_resnet18 --n-images 1000 --seeds 1 --repeats "$REPEATS"
run benchmarks/bench_autoattack.py --n-images "$AA_IMAGES"

GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || echo "CUDA device")
"$PYTHON" - "$LOG" "$GPU" <<'PY'
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
