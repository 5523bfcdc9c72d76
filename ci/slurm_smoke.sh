#!/usr/bin/env bash
# CI check of the SLURM profile on a real (throwaway, single-node) SLURM cluster:
#   1. stand up munge + slurmctld + slurmd (ci/slurm_standup.sh; apt-get if missing),
#   2. run a few smoke-preset targets locally into one temporary directory,
#   3. run the same targets through SLURM into another, with
#        snakemake --profile profiles/slurm --workflow-profile profiles/slurm-ci,
#   4. check that every job went through SLURM (Snakemake's submissions, one SLURM
#      log per job, slurmctld's completion records) and that the CSV tables of the
#      two runs agree (relative tolerance 1e-12),
#   5. stop the daemons it started (trap on EXIT).
# Run as root on Debian 12:  bash ci/slurm_smoke.sh
# Environment:
#   SNAKEMAKE         snakemake to use (default: on PATH, else <repo>/.venv/bin/snakemake)
#   SLURM_SMOKE_TARGETS   targets (default: two dynamics tables and the Tikhonov table)
#   SLURM_SMOKE_TIMEOUT   seconds allowed for each Snakemake run (default 600)
#   KEEP_SMOKE_DIRS=1     keep the temporary directories (kept anyway on failure)
set -euo pipefail
T0=$(date +%s)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGETS=${SLURM_SMOKE_TARGETS:-results/dynamics/convergence.csv results/dynamics/boundaries.csv results/regularization/tikhonov.csv}
TIMEOUT=${SLURM_SMOKE_TIMEOUT:-600}

say() { echo "[slurm_smoke $(($(date +%s) - T0))s] $*"; }
fail() {
  echo "[slurm_smoke] FAILED: $*" >&2
  exit 1
}

if [ -z "${SNAKEMAKE:-}" ]; then
  SNAKEMAKE=$(command -v snakemake || true)
  [ -n "$SNAKEMAKE" ] || SNAKEMAKE=$REPO/.venv/bin/snakemake
fi
[ -x "$SNAKEMAKE" ] || fail "no snakemake (set SNAKEMAKE=/path/to/venv/bin/snakemake)"
SNAKEMAKE=$(cd "$(dirname "$SNAKEMAKE")" && pwd)/$(basename "$SNAKEMAKE")
# The interpreter of that snakemake (it has pandas), for the comparison below.
PYTHON=$(dirname "$SNAKEMAKE")/python
[ -x "$PYTHON" ] || PYTHON=$(head -1 "$SNAKEMAKE" | sed 's/^#! *//')
[ "$(id -u)" = 0 ] || fail "run as root (it installs and starts SLURM daemons)"

WORK=$(mktemp -d /tmp/slurm_smoke.XXXXXX)
LOCAL=$WORK/local
CLUSTER=$WORK/slurm
STARTED=$WORK/started_daemons
: >"$STARTED"
ok=0
cleanup() {
  local rc=$?
  say "teardown"
  bash "$REPO/ci/slurm_teardown.sh" "$STARTED" || true
  if [ "$ok" = 1 ] && [ "${KEEP_SMOKE_DIRS:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "[slurm_smoke] runs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "standing up SLURM"
SLURM_CI_STARTED=$STARTED bash "$REPO/ci/slurm_standup.sh" || fail "SLURM standup"

# shellcheck disable=SC2086
run_snakemake() { # $1 = name, $2 = workdir, rest = extra arguments; log in $WORK/$1.log
  local name=$1 dir=$2
  shift 2
  local t=$(date +%s) rc=0
  # targets before --config, which takes every KEY=VALUE after it
  (cd "$REPO" && timeout -k 15 "$TIMEOUT" "$SNAKEMAKE" -s "$REPO/Snakefile" -d "$dir" \
    $TARGETS "$@" --config preset=smoke) >"$WORK/$name.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -40 "$WORK/$name.log" >&2
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then fail "$name run timed out after ${TIMEOUT}s"; fi
    fail "$name run exited $rc (log: $WORK/$name.log)"
  fi
  say "$name run done in $(($(date +%s) - t))s"
}

say "local run: $TARGETS"
run_snakemake local "$LOCAL" --cores 2

CTLD_LOG=/var/log/slurm/slurmctld.log
CTLD_OFFSET=$(stat -c %s "$CTLD_LOG" 2>/dev/null || echo 0)
say "SLURM run: same targets"
run_snakemake slurm "$CLUSTER" --profile "$REPO/profiles/slurm" \
  --workflow-profile "$REPO/profiles/slurm-ci"

# ---- (a) every job went through SLURM ----
LOG=$WORK/slurm.log
grep -qF "$REPO/profiles/slurm and workflow specific profile $REPO/profiles/slurm-ci for" "$LOG" ||
  fail "Snakemake did not report using profiles/slurm with profiles/slurm-ci on top"
n_jobs=$(awk '/^Job stats:/ {s=1} s && /^total/ {print $2; exit}' "$LOG")
[ -n "$n_jobs" ] && [ "$n_jobs" -gt 0 ] || fail "no job count in Snakemake's log"
grep -Eq "^$n_jobs of $n_jobs steps \(100%\) done" "$LOG" || fail "Snakemake did not report all $n_jobs steps done"
# "Job 4 has been submitted with SLURM jobid 17 (log: /.../17.log)."
submitted=$(sed -n 's/.*has been submitted with SLURM jobid \([0-9][0-9]*\) (log: \(.*\))\.$/\1 \2/p' "$LOG")
n_sub=$(grep -c . <<<"$submitted" || true)
[ "$n_sub" = "$n_jobs" ] || fail "$n_jobs jobs planned, but $n_sub submitted to SLURM"
new_ctld=$(tail -c +"$((CTLD_OFFSET + 1))" "$CTLD_LOG")
ids=()
while read -r id log; do
  ids+=("$id")
  # the smoke preset's run lives in runs/smoke/ of the directory it starts from, .snakemake too
  case $log in "$CLUSTER/runs/smoke/.snakemake/slurm_logs/"*) ;; *) fail "SLURM log of job $id outside $CLUSTER/runs/smoke: $log" ;; esac
  # the SLURM log holds the output of the job step, run by the slurm-jobstep executor
  grep -q -- "--executor slurm-jobstep" "$log" 2>/dev/null || fail "no SLURM job log for job $id ($log)"
  grep -q "_job_complete: JobId=$id WEXITSTATUS 0\b" <<<"$new_ctld" ||
    fail "slurmctld.log has no successful completion of JobId=$id"
done <<<"$submitted"
[ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" = "$n_jobs" ] || fail "repeated SLURM jobids"
first=$(printf '%s\n' "${ids[@]}" | sort -n | head -1)
last=$(printf '%s\n' "${ids[@]}" | sort -n | tail -1)
say "all $n_jobs jobs ran through SLURM (jobids $first-$last), each with a SLURM log and exit 0 in slurmctld.log"

# ---- (b) the same tables ----
"$PYTHON" - "$LOCAL" "$CLUSTER" <<'EOF' || fail "the tables of the local and the SLURM runs differ"
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# the smoke preset writes under runs/smoke/ of the directory a run starts from
local, cluster = (Path(p) / "runs" / "smoke" for p in sys.argv[1:3])
names = sorted(str(p.relative_to(local)) for p in (local / "results").rglob("*.csv"))
other = sorted(str(p.relative_to(cluster)) for p in (cluster / "results").rglob("*.csv"))
if names != other or not names:
    sys.exit(f"different sets of CSV files: {names} vs {other}")
identical = 0
for name in names:
    a, b = (local / name).read_bytes(), (cluster / name).read_bytes()
    if a == b:
        identical += 1
        continue
    x, y = pd.read_csv(local / name), pd.read_csv(cluster / name)
    if list(x.columns) != list(y.columns) or x.shape != y.shape:
        sys.exit(f"{name}: columns or shape differ")
    for col in x.columns:
        if pd.api.types.is_float_dtype(x[col]) and pd.api.types.is_float_dtype(y[col]):
            if not np.allclose(x[col], y[col], rtol=1e-12, atol=0.0, equal_nan=True):
                sys.exit(f"{name}: column {col} differs beyond rtol 1e-12")
        elif not x[col].equals(y[col]):
            sys.exit(f"{name}: column {col} differs")
print(f"{len(names)} CSV tables agree ({identical} byte-identical, "
      f"{len(names) - identical} within rtol 1e-12)")
EOF

ok=1
say "PASSED: $TARGETS built through SLURM ($n_jobs jobs) and equal to the local run"
