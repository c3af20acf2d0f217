#!/usr/bin/env bash
# Builds the device bundle: the nativecert CLI and the GPU check harness (nativecert-gpucheck), each published
# self-contained for linux-x64 and trimmed where it is safe (benchmarks/gpu/Bundle.targets: the framework is
# trimmed; our assemblies, ILGPU and CoreLib, which ILGPU reflects over, are kept whole), plus device-check.sh and
# the PyTorch peer, in one .tar.gz of at most 48 MiB. It runs where no .NET is installed: a bare GPU machine.
#
#   benchmarks/gpu/make-bundle.sh OUT.tar.gz
#
# Unpacked: nativecert-bundle/{cli/nativecert, gpucheck/nativecert-gpucheck, device-check.sh,
# torch_cuda_ensemble.py, BUILD}. Exit 2 on bad usage, 1 when a publish fails or the archive is too large.
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then echo "usage: make-bundle.sh OUT.tar.gz" >&2; exit 2; fi
out=$1
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
limit=$((48 * 1024 * 1024))
stage=$(mktemp -d "${TMPDIR:-/tmp}/nativecert-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT
bundle="$stage/nativecert-bundle"
mkdir -p "$bundle" "$(dirname "$out")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
publish() { # project output-dir
  local start=$SECONDS
  dotnet publish "$root/$1" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
    -p:CustomAfterMicrosoftCommonTargets="$root/benchmarks/gpu/Bundle.targets" -o "$2" -v quiet -nologo \
    >"$stage/publish.log" 2>&1 || { cat "$stage/publish.log" >&2; echo "make-bundle: publishing $1 failed" >&2; exit 1; }
  echo "make-bundle: published $1 in $((SECONDS - start)) s" >&2
}
publish src/NativeCert.Cli/NativeCert.Cli.csproj "$bundle/cli"
publish benchmarks/NativeCert.GpuCheck/NativeCert.GpuCheck.csproj "$bundle/gpucheck"
rm -f "$bundle"/cli/*.pdb "$bundle"/gpucheck/*.pdb "$bundle"/cli/*.xml "$bundle"/gpucheck/*.xml
cp "$root/benchmarks/gpu/device-check.sh" "$root/benchmarks/peers/torch_cuda_ensemble.py" "$bundle/"
{
  echo "commit $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with .NET SDK $(dotnet --version)"
} >"$bundle/BUILD"
tmp="$out.tmp.$$"
tar -C "$stage" -czf "$tmp" nativecert-bundle
size=$(stat -c %s "$tmp")
if [ "$size" -gt "$limit" ]; then rm -f "$tmp"; echo "make-bundle: archive is $size bytes, over the 48 MiB limit" >&2; exit 1; fi
mv -f "$tmp" "$out"
echo "make-bundle: $out ($((size / 1024)) KiB; cli $(du -sm "$bundle/cli" | cut -f1) MiB, gpucheck $(du -sm "$bundle/gpucheck" | cut -f1) MiB unpacked)" >&2
