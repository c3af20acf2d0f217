#!/usr/bin/env bash
# GPU run of NativeCert: the CUDA kernel tests, our GPU throughput (batched GEMM GFLOP/s vs FP32 peak, ensemble
# model-epochs/s), `nativecert bench --backend cuda --json` when that command exists, and the PyTorch CUDA peer on
# the same ensemble, then the ratio. Installs nothing: it checks what is there and says what is missing.
#
#   benchmarks/gpu/run-gpu-bench.sh [MODELS] [EPOCHS] [TRAIN_ROWS]      (defaults 10000 5 8000)
#
# Results land in benchmarks/gpu/out/<UTC time>/ (JSON and logs); paste the summary into benchmarks/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
MODELS=${1:-10000}; EPOCHS=${2:-5}; TRAIN=${3:-8000}
OUT="benchmarks/gpu/out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

missing=0
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/nvidia-smi.csv"
else
  echo "note: no nvidia-smi; ILGPU still finds the GPU if the driver's libcuda is installed (checked below)"
fi
if command -v dotnet >/dev/null 2>&1; then
  dotnet --version | tee "$OUT/dotnet-version.txt"
  if ! dotnet --list-sdks | grep -q '^10\.'; then echo "missing: .NET SDK 10 (found: $(dotnet --list-sdks | tr '\n' ' '))"; missing=1; fi
else
  echo "missing: dotnet (the .NET 10 SDK); install it, then rerun"; missing=1
fi
if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  have_torch=1
else
  echo "missing: python3 with a CUDA build of torch; the PyTorch peer will be skipped"; have_torch=0
fi
[ "$missing" = 0 ] || { echo "cannot run the .NET part; see the 'missing:' lines above"; exit 2; }

echo "== build"
dotnet build NativeCert.sln -c Release 2>&1 | tail -3

echo "== CUDA kernel tests (each kernel vs the scalar reference on the GPU, whole ensemble vs cpu)"
dotnet test tests/NativeCert.Tests -c Release --no-build --filter "FullyQualifiedName~NativeCert.Tests.Gpu" \
  --logger "console;verbosity=normal" 2>&1 | tee "$OUT/gpu-tests.log" | grep -E 'Passed|Failed|Skipped|Total' | tail -40

echo "== NativeCert GPU throughput ($MODELS models x $EPOCHS epochs on $TRAIN rows)"
dotnet benchmarks/NativeCert.Benchmarks/bin/Release/net10.0/NativeCert.Benchmarks.dll gpu --backend cuda \
  --models "$MODELS" --epochs "$EPOCHS" --train "$TRAIN" --json > "$OUT/nativecert-gpu.json" 2> "$OUT/nativecert-gpu.log"
status=$?
cat "$OUT/nativecert-gpu.log"; cat "$OUT/nativecert-gpu.json"
if [ "$status" != 0 ]; then
  echo "missing: a CUDA device ILGPU can start (exit $status above); the GPU tests were reported skipped"; exit 2
fi

CLI=src/NativeCert.Cli/bin/Release/net10.0/nativecert.dll
if [ -f src/NativeCert.Cli/Commands/BenchCommand.cs ] && [ -f "$CLI" ]; then
  echo "== nativecert bench --backend cuda --json"
  dotnet "$CLI" bench --backend cuda --models "$MODELS" --epochs "$EPOCHS" --examples "$TRAIN" --json \
    > "$OUT/bench-cuda.json" 2> "$OUT/bench-cuda.log"; echo "exit $?"; cat "$OUT/bench-cuda.log"
  cat "$OUT/bench-cuda.json"
else
  echo "(no bench command in this checkout; skipped nativecert bench)"
fi

if [ "$have_torch" = 1 ]; then
  echo "== PyTorch CUDA peer (same ensemble, batched matmuls)"
  python3 benchmarks/peers/torch_cuda_ensemble.py --models "$MODELS" --epochs "$EPOCHS" --train "$TRAIN" \
    --ours "$OUT/nativecert-gpu.json" --json "$OUT/torch-cuda.json" 2>&1 | tee "$OUT/torch-cuda.log"
fi
echo "== results in $OUT"
