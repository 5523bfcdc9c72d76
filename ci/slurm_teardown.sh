#!/usr/bin/env bash
# Stop the daemons of ci/slurm_standup.sh by their pid files (never by name).
# Stops the single-node SLURM cluster of ci/slurm_standup.sh.
#
# Usage: bash ci/slurm_teardown.sh [FILE]
#   FILE: the SLURM_CI_STARTED list written by slurm_standup.sh; only the daemons
#         listed there are stopped, and the slurm.conf if listed is removed (or
#         the previous one restored). Without FILE, every daemon of the recipe is
#         stopped and slurm.conf is left in place.
set -u

stop() { # $1 = pid file
  [ -s "$1" ] || return 0
  local p t0
  p=$(cat "$1")
  t0=$(date +%s.%N)
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p"
    for _ in $(seq 1 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$p" 2>/dev/null; then
      echo "pid $p ($1) did not exit on TERM, sending KILL" >&2
      kill -KILL "$p" 2>/dev/null
    fi
  fi
  # slurmctld/slurmdbd (running as user slurm) leave stale pid files in /run; a stale
  # /run/slurmctld.pid makes `apt-get purge slurmctld` fail (its prerm runs scancel)
  rm -f "$1"
  echo "stopped $1 (pid $p) in $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')s"
}

ORDER="/run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid"
if [ $# -ge 1 ]; then
  [ -f "$1" ] || exit 0
  listed=$(cat "$1")
else
  listed=$(printf '%s\n' $ORDER)
fi
# Jobs still queued or running die with the cluster, when we started its controller.
if grep -qx /run/slurmctld.pid <<<"$listed"; then
  scancel --user="$(id -un)" 2>/dev/null || true
fi
for f in $ORDER; do # stop in dependency order, whatever the order of the list
  grep -qx "$f" <<<"$listed" && stop "$f"
done
# The slurm.conf that standup wrote: left behind, it makes every later `scontrol`
# (and so every Snakemake start, through the slurm plugin) wait ~10 s for a controller.
if grep -qx /etc/slurm/slurm.conf <<<"$listed"; then
  if [ -e /etc/slurm/slurm.conf.before-ci ]; then
    mv -f /etc/slurm/slurm.conf.before-ci /etc/slurm/slurm.conf
    echo "restored /etc/slurm/slurm.conf"
  else
    rm -f /etc/slurm/slurm.conf
    echo "removed /etc/slurm/slurm.conf"
  fi
fi
exit 0
