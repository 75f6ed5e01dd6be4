#!/usr/bin/env bash
# Starts or stops the single-node Slurm the tests use (slurm.conf.in beside this script): munge, slurmctld and slurmd,
# as root, with state in $RRQ_SLURM_DIR (default /tmp/rrq-slurm). `start` prints the path to give as SLURM_CONF.
set -euo pipefail
dir=${RRQ_SLURM_DIR:-/tmp/rrq-slurm}
here=$(cd "$(dirname "$0")" && pwd)

stop() {
  # Jobs first (this cluster is the tests' own): their processes would outlive the daemons.
  if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF="$dir/slurm.conf" scancel --full --signal=KILL --user="$(id -un)" 2>/dev/null || true
    SLURM_CONF="$dir/slurm.conf" scancel --user="$(id -un)" 2>/dev/null || true
  fi
  for d in slurmd slurmctld; do
    if [ -f "$dir/$d.pid" ]; then kill "$(cat "$dir/$d.pid")" 2>/dev/null || true; fi
  done
  sleep 1
}

case "${1:-}" in
  start)
    stop
    rm -rf "$dir/state" "$dir/spool"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    host=$(hostname -s)
    memory=$(( $(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 1024 * 8 / 10 ))
    sed -e "s|@HOST@|$host|g" -e "s|@DIR@|$dir|g" -e "s|@CPUS@|$(nproc)|g" -e "s|@MEMORY@|$memory|g" \
        -e "s|@CTLD_PORT@|${RRQ_SLURMCTLD_PORT:-16817}|g" -e "s|@D_PORT@|${RRQ_SLURMD_PORT:-16818}|g" \
        "$here/slurm.conf.in" > "$dir/slurm.conf"
    pgrep -x munged >/dev/null || service munge start >/dev/null 2>&1 || munged --force
    slurmctld -f "$dir/slurm.conf"
    slurmd -f "$dir/slurm.conf"
    for _ in $(seq 1 60); do
      if SLURM_CONF="$dir/slurm.conf" sinfo -h -o %T 2>/dev/null | grep -q idle; then
        echo "$dir/slurm.conf"
        exit 0
      fi
      sleep 0.5
    done
    echo "Slurm did not come up; its logs:" >&2
    tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    exit 1
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
