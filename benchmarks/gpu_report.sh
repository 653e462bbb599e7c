#!/usr/bin/env bash
# One prepared GPU timing run (random ViT-B-16-plus-240 weights; no network needed).
# Usage on a CUDA machine from the repository root:  bash benchmarks/gpu_report.sh [OUTDIR]
# Needs the package importable (pip install -e . or PYTHONPATH=.) and open_clip installed.
set -uo pipefail
out=${1:-gpu_report}
mkdir -p "$out"
export PYTHONPATH=${PYTHONPATH:-}:$(pwd) PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
run() { echo "### $*" | tee -a "$out/report.txt"; "$@" 2>&1 | grep -v "^WARNING:root" | tee -a "$out/report.txt"; echo | tee -a "$out/report.txt"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/report.txt"
python3 -c "import torch, open_clip; print('torch', torch.__version__, 'open_clip', open_clip.__version__)" | tee -a "$out/report.txt"
run python3 benchmarks/encoder_speed.py --device cuda --batch 32 --repeats 20
run python3 benchmarks/encoder_speed.py --device cuda --batch 32 --repeats 20 --amp bf16
run python3 benchmarks/tta_speed.py --device cuda --batch 8 --repeats 10
run python3 benchmarks/tta_speed.py --device cuda --batch 8 --repeats 5 --views 22
if [ -f benchmarks/methods_speed.py ]; then run python3 benchmarks/methods_speed.py --device cuda --batch 8 --repeats 5; fi
run python3 benchmarks/bench_throughput.py --device cuda --images 240 --batch 16
