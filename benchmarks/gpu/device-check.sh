#!/usr/bin/env bash
# The first minutes on a bare GPU machine (no .NET): runs the device bundle (benchmarks/gpu/make-bundle.sh) and
# writes one JSON (OUTDIR/device-check.json) and a log (OUTDIR/device-check.log). At most about 8 minutes on an
# H100/H200: every stage has a time limit and the whole run a budget; a stage that overruns is recorded as timed out
# and the next one runs.
#
#   device-check.sh BUNDLE OUTDIR [--dry-run]
#
# BUNDLE: the .tar.gz from make-bundle.sh, or the directory it unpacks to. Stages:
#   environment  nvidia-smi, driver, where libcuda was found, ILGPU's device info and FP32 peak
#   static       every kernel's PTX through ptxas -arch=sm_90 -v (registers, stack frame, spills); cuobjdump -sass
#                of the GEMMs (FFMA share)
#   correctness  every kernel against the CPU engine at full size (largest chunk, models 0 and M-1, NaN-poisoned
#                outputs, noise bit for bit)
#   speed        each GEMM variant at M = 2,000 and the largest M (median of 10 after warm-up, fraction of FP32
#                peak); ensemble model-epochs/s (nativecert bench); PyTorch on the same device, TF32 off, same run
#   votes        the first 16 models, cuda against cpu: predictions that differ
#   end to end   certify --backend cuda on the built-in MNIST, N = 10,000 models: wall time
# --dry-run runs the same logic on ILGPU's CPU accelerator at tiny sizes (CI): the nvidia tools and PyTorch are
# skipped, and the JSON says so.
set -uo pipefail
usage() { echo "usage: device-check.sh BUNDLE OUTDIR [--dry-run]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 3 ] || usage
bundle_arg=$1 outdir=$2 dry=0
if [ $# -eq 3 ]; then [ "$3" = --dry-run ] && dry=1 || usage; fi
mkdir -p "$outdir" || { echo "device-check: cannot create $outdir" >&2; exit 2; }
outdir=$(cd "$outdir" && pwd)
rm -rf "$outdir/parts" "$outdir/static" "$outdir/stages.tsv"
mkdir -p "$outdir/parts" "$outdir/static"
log="$outdir/device-check.log"
: >"$log"

if [ -d "$bundle_arg" ]; then
  bundle=$(cd "$bundle_arg" && pwd)
elif [ -f "$bundle_arg" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/nativecert-device.XXXXXX")
  tar -C "$work" -xzf "$bundle_arg" || { echo "device-check: $bundle_arg: not a bundle archive" >&2; exit 2; }
  bundle="$work/nativecert-bundle"
else
  echo "device-check: $bundle_arg: no such bundle" >&2; exit 2
fi
cli="$bundle/cli/nativecert" check="$bundle/gpucheck/nativecert-gpucheck"
[ -x "$cli" ] && [ -x "$check" ] || { echo "device-check: $bundle: not a bundle (no cli/nativecert or gpucheck/nativecert-gpucheck)" >&2; exit 2; }

if [ "$dry" = 1 ]; then
  mode="dry run: ILGPU CPU accelerator, tiny sizes"; acc=cpu backend=ilgpu-cpu tiny=--tiny
else
  mode="device"; acc=cuda backend=cuda tiny=
fi
budget=470            # seconds for all stages: ~8 minutes with the unpacking and the report
t0=$SECONDS
say() { echo "== $*" | tee -a "$log"; }

# stage NAME LIMIT_S OUTFILE COMMAND...: runs COMMAND with stdout to parts/OUTFILE (stderr to the log) under
# min(LIMIT_S, what is left of the budget) and records name, exit code, seconds in stages.tsv.
stage() {
  local name=$1 limit=$2 file=$3; shift 3
  local left=$((budget - (SECONDS - t0)))
  if [ "$left" -lt 10 ]; then printf '%s\t0\t0\tskipped: the 8-minute budget is spent\n' "$name" >>"$outdir/stages.tsv"; say "$name: skipped (budget spent)"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "$name (limit ${limit} s)"
  local start=$EPOCHREALTIME
  timeout --kill-after=5 "$limit" "$@" >"$outdir/parts/$file" 2>>"$log"
  local rc=$?
  local secs; secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$secs" "${note:-}" >>"$outdir/stages.tsv"
  note=
  [ "$rc" = 0 ] || say "$name: exit $rc (see $log)"
}
skip() { printf '%s\t0\t0\tskipped: %s\n' "$1" "$2" >>"$outdir/stages.tsv"; say "$1: skipped ($2)"; }
have() { command -v "$1" >/dev/null 2>&1; }
note=

say "device-check: $mode; bundle $(head -1 "$bundle/BUILD" 2>/dev/null)"
cp "$bundle/BUILD" "$outdir/parts/bundle.txt" 2>/dev/null

# --- environment
if [ "$dry" = 0 ] && have nvidia-smi; then
  stage nvidia-smi 20 nvidia-smi.txt nvidia-smi
  stage nvidia-smi-query 20 nvidia-smi-query.txt nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit,temperature.gpu --format=csv
else
  skip nvidia-smi "$([ "$dry" = 1 ] && echo 'dry run: nvidia tools not used' || echo 'nvidia-smi not found')"
fi
stage libcuda 10 libcuda.txt sh -c 'ldconfig -p 2>/dev/null | grep -E "libcuda\.so" || echo "no libcuda in the loader cache"'
stage info 60 info.json "$check" info --accelerator "$acc"

# --- static: PTX of every kernel, then ptxas and cuobjdump where they exist
stage ptx 60 ptx.json "$check" ptx "$outdir/static"
if [ "$dry" = 0 ] && have ptxas; then
  ptxas_all() {
    for f in "$outdir"/static/*.ptx; do
      k=$(basename "$f" .ptx)
      ptxas -arch=sm_90 -v -o "$outdir/static/$k.cubin" "$f" >"$outdir/static/$k.ptxas.txt" 2>&1 || echo "ptxas failed on $k" >&2
    done
    if have cuobjdump; then
      for k in BatchedGemmKernel BatchedGemm64x128Kernel BatchedGemmThinKernel BatchedGemm128x128Kernel_AlongK_AlongOutput BatchedGemm128x128Kernel_AlongOutput_AlongOutput; do
        [ -f "$outdir/static/$k.cubin" ] && cuobjdump -sass "$outdir/static/$k.cubin" >"$outdir/static/$k.sass" 2>&1
      done
    else
      echo "cuobjdump not found: no SASS instruction mix" >&2
    fi
    ptxas --version | tail -1
  }
  export -f ptxas_all have; export outdir
  stage ptxas 90 ptxas.txt bash -c ptxas_all
else
  skip ptxas "$([ "$dry" = 1 ] && echo 'dry run: nvidia tools not used' || echo 'ptxas not found')"
fi

# --- correctness at full size
stage correctness 120 correctness.json "$check" check --accelerator "$acc" $tiny

# --- speed
stage gemm 90 gemm.json "$check" gemm --accelerator "$acc" $tiny --reps 10
if [ "$dry" = 1 ]; then
  bench_args=(--epochs 1 --examples 64 --batch 16) mlp_models=2 lenet_models=1
else
  bench_args=(--epochs 1) mlp_models=10000 lenet_models=2000
fi
stage bench-mlp 90 bench-mlp.json "$cli" bench --backend "$backend" "${bench_args[@]}" --models "$mlp_models" $([ "$dry" = 1 ] && echo --hidden 8) --json
if "$cli" bench --help 2>/dev/null | grep -q -- '--model '; then
  # Dry run: one batch of 16 rows, the CPU accelerator runs a LeNet step in tens of seconds on a loaded 2-core machine.
  lenet_args=("${bench_args[@]}"); [ "$dry" = 1 ] && lenet_args=(--epochs 1 --examples 16 --batch 16)
  stage bench-lenet 90 bench-lenet.json "$cli" bench --backend "$backend" --model lenet "${lenet_args[@]}" --models "$lenet_models" --json
else
  skip bench-lenet "this nativecert has no --model option (LeNet not built in yet)"
fi
if [ "$dry" = 1 ]; then
  skip torch "dry run: PyTorch CUDA peer not run"
elif have python3 && python3 -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  stage torch 120 torch.txt env PYTHONUNBUFFERED=1 python3 "$bundle/torch_cuda_ensemble.py" --models 10000 --epochs 1 --train 8000 \
    --ours "$outdir/parts/bench-mlp.json" --json "$outdir/parts/torch.json"
else
  skip torch "python3 with a CUDA build of torch not found"
fi

# --- votes: the first 16 models, this backend against cpu
stage votes 90 votes.json "$check" votes --accelerator "$acc" $tiny --models 16

# --- end to end: certify on the built-in MNIST
if [ "$dry" = 1 ]; then
  certify_args=(--models 4 --classes 1,7 --train-size 100 --test-size 10 --hidden 4 --epochs 1 --batch 16)
else
  certify_args=(--models 10000)
fi
note="certify --backend $backend ${certify_args[*]}"
stage certify 150 certify.txt "$cli" certify --backend "$backend" "${certify_args[@]}" --out "$outdir/certify-run"

# --- the one JSON
elapsed=$((SECONDS - t0))
"$check" report "$outdir" --mode "$mode" --elapsed "$elapsed" --bundle "$(head -1 "$bundle/BUILD" 2>/dev/null)" \
  --out "$outdir/device-check.json" >>"$log" 2>&1
rc=$?
say "device-check: $outdir/device-check.json ($elapsed s; $([ "$rc" = 0 ] && echo 'every stage passed' || echo 'a stage failed or timed out'))"
column -t -s "$(printf '\t')" "$outdir/stages.tsv" 2>/dev/null || cat "$outdir/stages.tsv"
exit $rc
