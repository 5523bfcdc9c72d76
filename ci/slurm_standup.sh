#!/usr/bin/env bash
# Stand up a real single-node SLURM cluster (partition `debug`) on Debian 12, as
# root, without systemd: munge, slurmctld, slurmd; optionally slurmdbd.
# A single-node SLURM cluster (munge, slurmctld, slurmd) for the CI smoke test.
#
# Usage: [WITH_DBD=1] [SLURM_CI_STARTED=FILE] bash ci/slurm_standup.sh
#   WITH_DBD=0 (default): no accounting, so `sacct` fails; use the squeue status
#                         command (profiles/slurm-ci does).
#   WITH_DBD=1          : also mariadb + slurmdbd, so that `sacct` works.
#   SLURM_CI_STARTED    : this script appends the pid file of every daemon it
#                         starts (and /etc/slurm/slurm.conf when it writes it) to
#                         FILE; ci/slurm_teardown.sh FILE undoes only those.
# Packages are installed with apt-get only when a binary is missing. A daemon
# already running (its pid file alive) is left alone and not recorded.
set -euo pipefail
WITH_DBD=${WITH_DBD:-0}
STARTED=${SLURM_CI_STARTED:-/dev/null}
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "slurm_standup.sh: must run as root" >&2; exit 1; }

need=0
for bin in slurmctld slurmd sbatch squeue munged; do
  command -v "$bin" >/dev/null || need=1
done
if [ "$WITH_DBD" = 1 ]; then
  for bin in slurmdbd mariadbd; do command -v "$bin" >/dev/null || need=1; done
fi
if [ "$need" = 1 ]; then
  PKGS="slurmctld slurmd slurm-client munge"
  [ "$WITH_DBD" = 1 ] && PKGS="$PKGS slurmdbd mariadb-server"
  echo "slurm_standup.sh: apt-get install $PKGS"
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
started() { echo "$1" >>"$STARTED"; }

# ---- munge (postinst normally creates the key; make sure) ----
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
if ! alive /run/munge/munged.pid; then
  runuser -u munge -- /usr/sbin/munged # daemonizes, writes /run/munge/munged.pid
  started /run/munge/munged.pid
fi
for _ in $(seq 1 20); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
munge -n | unmunge >/dev/null

# ---- slurm.conf (not rewritten while a controller runs on it) ----
HN=$(hostname -s)
if ! alive /run/slurmctld.pid; then
  MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  CPUS=$(nproc)
  if [ "$WITH_DBD" = 1 ]; then
    ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
  else
    ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  # Recorded so that teardown removes it (or restores the one saved here): with a
  # slurm.conf whose controller is down, `scontrol` waits ~10 s, and the slurm
  # executor plugin calls `scontrol show config` whenever Snakemake starts.
  if [ -e /etc/slurm/slurm.conf ] && [ ! -e /etc/slurm/slurm.conf.before-ci ]; then
    cp -p /etc/slurm/slurm.conf /etc/slurm/slurm.conf.before-ci
  fi
  started /etc/slurm/slurm.conf
  cat >/etc/slurm/slurm.conf <<EOF
ClusterName=ci
SlurmctldHost=${HN}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
${ACCT}
JobCompType=jobcomp/none
# keep finished jobs visible to squeue for 5 min (the plugin needs >= 3 x its init interval)
MinJobAge=300
InactiveLimit=0
KillWait=5
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=${HN} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=500
EOF
fi
install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
install -d /var/spool/slurmd

# ---- optional accounting: mariadb + slurmdbd ----
if [ "$WITH_DBD" = 1 ]; then
  install -d -o mysql -g root /run/mysqld
  if ! alive /run/mysqld/mysqld.pid; then
    setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
      --socket=/run/mysqld/mysqld.sock --bind-address=127.0.0.1 \
      >/var/log/slurm/mariadb.log 2>&1 </dev/null &
    started /run/mysqld/mysqld.pid
  fi
  for _ in $(seq 1 60); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
  chown slurm:slurm /etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf
  if ! alive /run/slurmdbd.pid; then
    slurmdbd
    started /run/slurmdbd.pid
  fi
  for _ in $(seq 1 40); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
fi

# ---- controller + node daemon (both daemonize and write pid files) ----
if ! alive /run/slurmctld.pid; then
  slurmctld
  started /run/slurmctld.pid
fi
for _ in $(seq 1 40); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
if ! alive /run/slurmd.pid; then
  slurmd
  started /run/slurmd.pid
fi
st=
for _ in $(seq 1 60); do
  st=$(sinfo -h -N -o %T 2>/dev/null | head -1)
  [ "$st" = idle ] && break
  sleep 0.5
done
sinfo
if [ "$st" != idle ]; then
  echo "slurm_standup.sh: node not idle: '$st'" >&2
  tail -20 /var/log/slurm/slurm*.log >&2
  exit 1
fi
