#!/usr/bin/env bash
# Starts a single-node Slurm cluster for the Slurm tests (tests/NativeCert.Tests/Cluster): munged, slurmctld and
# slurmd as root, with a generated slurm.conf whose state, spool, logs and sockets live in one temporary directory,
# on non-default ports, so nothing of a system Slurm or munge is used or changed. Node "localhost" gets the real
# CPU count and memory of this machine (slurmd -C).
#
# Source it (it exports SLURM_CONF and NATIVECERT_SLURM_DIR for the tests and sbatch/squeue):
#   . .ci/slurm-up.sh && dotnet test NativeCert.sln -c Release --filter Slurm; .ci/slurm-down.sh
# Installs Debian's slurm-wlm and munge first when they are missing (needs root and apt-get).
# Stop it with .ci/slurm-down.sh, which kills exactly the daemons started here, by the PIDs in $NATIVECERT_SLURM_DIR.

# The work runs in a subshell with strict error handling (so sourcing does not change the caller's shell options);
# it prints the directory, which is all the caller needs.
_nativecert_slurm_up() (
  set -euo pipefail
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "slurm-up: slurm-wlm and munge are not installed and cannot be installed here (needs root and apt-get)" >&2
      exit 1
    fi
    echo "slurm-up: installing slurm-wlm and munge" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
  if [ "$(id -u)" != 0 ]; then echo "slurm-up: must run as root (slurmd starts jobs as their user)" >&2; exit 1; fi

  dir=$(mktemp -d /tmp/nativecert-slurm.XXXXXX)
  port_base=${NATIVECERT_SLURM_PORT:-16817}
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 700 "$dir/munge"

  # munge: its own key, socket and pid file; --force because the temp directory is not a system path munged trusts.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
         --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

  # The node as slurmd sees it (CPUs, sockets, cores, memory), renamed to localhost.
  node=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/')
  cat > "$dir/slurm.conf" <<CONF
ClusterName=nativecert-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port_base
SlurmdPort=$((port_base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
# Finished jobs stay visible to scontrol for 10 minutes (no accounting database here, so sacct has nothing).
MinJobAge=600
KillWait=5
SchedulerType=sched/backfill
# Schedule every 2 s rather than every 60 s: a requeued job starts as soon as it is eligible.
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N localhost

  state=""
  for i in $(seq 1 120); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
    [ "$state" = idle ] && break
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    echo "slurm-up: node localhost did not become idle (state '$state'); logs in $dir" >&2
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    exit 1
  fi
  echo "slurm-up: single-node cluster up (SLURM_CONF=$SLURM_CONF, $(sinfo -h -N -o '%c CPUs, %m MB'))" >&2
  echo "$dir"
)

if _nativecert_slurm_dir=$(_nativecert_slurm_up); then
  export NATIVECERT_SLURM_DIR="$_nativecert_slurm_dir" SLURM_CONF="$_nativecert_slurm_dir/slurm.conf"
  unset _nativecert_slurm_dir
else
  unset _nativecert_slurm_dir
  false
fi
