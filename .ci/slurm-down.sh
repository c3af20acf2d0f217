#!/usr/bin/env bash
# Stops the cluster .ci/slurm-up.sh started: slurmd, slurmctld and munged, by the PIDs in their pid files under
# $NATIVECERT_SLURM_DIR (nothing else is signalled), then removes that directory.
set -uo pipefail
dir=${NATIVECERT_SLURM_DIR:-${1:-}}
if [ -z "$dir" ] || [ ! -d "$dir" ]; then echo "slurm-down: no cluster directory (NATIVECERT_SLURM_DIR)" >&2; exit 0; fi
for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
done
rm -rf "$dir"
echo "slurm-down: stopped the cluster in $dir" >&2
