#!/usr/bin/env bash
# A single-node Slurm "cluster" on localhost, for the tests and CI (Debian/Ubuntu, as root;
# works without systemd). It lets `snakemake --profile slurm` run against a real slurmctld.
#
#   .ci/slurm.sh start    install the packages if missing, write the config, start the daemons,
#                         wait until the node is idle and sacct answers
#   .ci/slurm.sh stop     stop the daemons this script started, by PID file, newest first
#   .ci/slurm.sh status   daemons and sinfo
#   .ci/slurm.sh env      print `export SLURM_CONF=...` (eval it before using sbatch, sacct, ...)
#
# Isolation: everything (slurm.conf, gres.conf, slurmdbd.conf, MUNGE key and socket, MariaDB
# data, state, logs, PID files) lives under $SLURM_CI_DIR; /etc/munge and the system MariaDB are
# not touched, and Slurm's commands find this cluster through SLURM_CONF. One exception:
# snakemake-executor-plugin-slurm-jobstep (0.6.1) removes SLURM_CONF from the environment of the
# `srun` it starts inside each job, so /etc/slurm/slurm.conf is made a symlink to our slurm.conf
# (only where no slurm.conf exists; removed again by `stop`). The script refuses to run where
# Slurm daemons it did not start are already running, or where /etc/slurm/slurm.conf is not ours.
#
# Exit status of `start`: 0 running; 3 Slurm cannot run here (not root, packages missing and
# not installable, foreign Slurm daemons) - callers skip; anything else is a real failure.
#
# Settings (environment):
#   SLURM_CI_DIR       where everything lives                    (default /tmp/phrenology-slurm)
#   SLURM_CI_GPUS      fake GPUs (gres/gpu) on the node          (default: number of CPUs)
#   SLURM_CI_MEM_MB    memory the node advertises, in MB         (default: max(real, 65536))
#   SLURM_CI_DB_PORT   port of the private MariaDB on 127.0.0.1  (default 16033)
#   SLURM_CI_TIMEOUT   seconds to wait for the node and sacct    (default 90)
set -euo pipefail

DIR=${SLURM_CI_DIR:-/tmp/phrenology-slurm}
ETC=$DIR/etc
RUN=$DIR/run
LOG=$DIR/log
DB=$DIR/mariadb
DB_PORT=${SLURM_CI_DB_PORT:-16033}
TIMEOUT=${SLURM_CI_TIMEOUT:-90}
DB_PASS=phrenology-ci-local-only # MariaDB listens on 127.0.0.1 only
MUNGE_SOCKET=$RUN/munge/munge.socket
H=$(hostname -s)
export SLURM_CONF=$ETC/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)

log() { printf '[slurm.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
cannot() { log "cannot run Slurm here: $*"; exit 3; }
fail() {
  log "FAILED: $*"
  for f in "$LOG"/*.log "$LOG"/*/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() { # $1 pid file, $2 name
  local f=$1 p
  if ! pid_alive "$f"; then rm -f "$f"; return 0; fi
  p=$(cat "$f")
  log "stopping $2 (pid $p)"
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then log "$2 still running, SIGKILL"; kill -9 "$p" 2>/dev/null || true; fi
  rm -f "$f"
}

wait_for() { # $1 seconds, $2 description, rest: command that succeeds when ready
  local secs=$1 what=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt "$secs" ] || fail "$what not ready after ${secs}s"
    sleep 0.25
  done
}

SYSTEM_CONF=/etc/slurm/slurm.conf

system_conf_is_ours() { [ "$(readlink "$SYSTEM_CONF" 2>/dev/null || true)" = "$SLURM_CONF" ]; }

do_stop() {
  stop_pidfile "$RUN/slurmd.pid" slurmd
  stop_pidfile "$RUN/slurmctld.pid" slurmctld
  stop_pidfile "$RUN/slurmdbd.pid" slurmdbd
  stop_pidfile "$RUN/mariadbd.pid" mariadbd
  stop_pidfile "$RUN/munged.pid" munged
  if system_conf_is_ours; then rm -f "$SYSTEM_CONF"; fi
  rm -f "$DIR/running.conf"
}

do_status() {
  local name rc=0
  for name in munged mariadbd slurmdbd slurmctld slurmd; do
    if pid_alive "$RUN/$name.pid"; then echo "$name: running, pid $(cat "$RUN/$name.pid")"
    else echo "$name: not running"; rc=1; fi
  done
  if pid_alive "$RUN/slurmctld.pid"; then sinfo 2>&1 || true; fi
  return $rc
}

check_preconditions() {
  [ "$(uname -s)" = Linux ] || cannot "not Linux"
  [ "$(id -u)" = 0 ] || cannot "needs root (it installs packages and starts daemons)"
  local name ours
  for name in slurmctld slurmd slurmdbd; do
    for p in $(pgrep -x "$name" 2>/dev/null || true); do
      ours=$(cat "$RUN/$name.pid" 2>/dev/null || true)
      [ "$p" = "$ours" ] || cannot "a $name this script did not start is running (pid $p)"
    done
  done
  if [ -e "$SYSTEM_CONF" ] || [ -L "$SYSTEM_CONF" ]; then
    system_conf_is_ours || cannot "$SYSTEM_CONF exists (a Slurm installation this script must not change)"
  fi
}

install_packages() {
  local missing=() b
  for b in slurmctld slurmd sbatch sacct slurmdbd munged mariadbd mariadb-install-db; do
    command -v "$b" >/dev/null || PATH=$PATH:/usr/sbin command -v "$b" >/dev/null || missing+=("$b")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || cannot "missing ${missing[*]} and no apt-get to install them"
  log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' install scripts must not start the system's own daemons (we start private
  # ones): a policy-rc.d that says "no" for the duration of the install, unless one exists.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if ! apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$LOG/apt.log" 2>&1; then
    apt-get update -qq >>"$LOG/apt.log" 2>&1 || cannot "apt-get update failed (see $LOG/apt.log)"
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$LOG/apt.log" 2>&1 \
      || cannot "apt-get install ${PACKAGES[*]} failed (see $LOG/apt.log)"
  fi
}

munge_ok() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"; }

start_munge() {
  install -d -o munge -g munge -m 0755 "$RUN/munge"
  install -d -o munge -g munge -m 0700 "$DIR/munge"
  if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  fi
  chown munge:munge "$DIR/munge/munge.key"
  chmod 0400 "$DIR/munge/munge.key"
  pid_alive "$RUN/munged.pid" && munge_ok >/dev/null 2>&1 && return 0
  log "starting munged (private key and socket)"
  # setpriv execs (no fork): munged -F keeps the PID we record.
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
    --key-file="$DIR/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --seed-file="$DIR/munge/munged.seed" --log-file="$LOG/munged.log" \
    --pid-file="$RUN/munge/munged.pid" </dev/null >>"$LOG/munged.log" 2>&1 &
  echo $! >"$RUN/munged.pid"
  wait_for 15 munged munge_ok
}

db() { mariadb --no-defaults --socket="$RUN/mysql/mysqld.sock" -u root "$@"; }

start_mariadb() {
  if ! pid_alive "$RUN/mariadbd.pid"; then
    if [ ! -d "$DB/mysql" ]; then
      log "initialising the private MariaDB in $DB"
      install -d -o mysql -g mysql -m 0750 "$DB"
      mariadb-install-db --no-defaults --user=mysql --datadir="$DB" \
        --auth-root-authentication-method=socket >"$LOG/mariadb-install.log" 2>&1 \
        || fail "mariadb-install-db"
    fi
    install -d -o mysql -g mysql -m 0755 "$RUN/mysql" "$LOG/mysql"
    log "starting mariadbd on 127.0.0.1:$DB_PORT"
    /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DB" --bind-address=127.0.0.1 \
      --port="$DB_PORT" --socket="$RUN/mysql/mysqld.sock" --skip-name-resolve \
      --log-error="$LOG/mysql/mariadb.log" --pid-file="$RUN/mysql/mariadbd.pid" </dev/null >/dev/null 2>&1 &
    echo $! >"$RUN/mariadbd.pid"
  fi
  wait_for 60 mariadbd db -e 'SELECT 1'
  # --skip-name-resolve: the TCP client is matched as 127.0.0.1, not localhost
  db -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
}

write_config() {
  local hw cpus mem gpus real_mem i gres_conf="" node_gres="" new
  hw=$(slurmd -C | head -1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  real_mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  [ -n "$cpus" ] || cpus=$(nproc)
  [ -n "$real_mem" ] || real_mem=$(free -m | awk '/^Mem:/{print $2}')
  # Memory is not enforced here (no cgroups), so advertise enough for every rule's request
  # to be schedulable; SlurmdParameters=config_overrides lets the node register with it.
  mem=${SLURM_CI_MEM_MB:-$((real_mem > 65536 ? real_mem : 65536))}
  gpus=${SLURM_CI_GPUS:-$cpus}
  if [ "$gpus" -gt 0 ]; then
    node_gres="Gres=gpu:$gpus"
    gres_conf="AutoDetect=off"$'\n'
    for i in $(seq 0 $((gpus - 1))); do
      # gres/gpu needs a character device: a private /dev/null (c 1 3) plays the GPU
      [ -c "$DIR/fakegpu$i" ] || { rm -f "$DIR/fakegpu$i"; mknod -m 666 "$DIR/fakegpu$i" c 1 3; }
      gres_conf+="NodeName=$H Name=gpu File=$DIR/fakegpu$i"$'\n'
    done
  fi
  printf '%s' "$gres_conf" >"$ETC/gres.conf"
  new=$(cat <<EOF
# Written by .ci/slurm.sh: a one-node cluster on localhost for tests.
ClusterName=phrenology-ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmdSpoolDir=$DIR/slurmd
StateSaveLocation=$DIR/slurmctld
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default a job with no --mem takes the whole node and jobs run one at a time
DefMemPerCPU=1000
SlurmdParameters=config_overrides
# finished jobs stay visible to squeue for 5 min (the profile polls with squeue)
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
# for slurmdbd connections the MUNGE socket is taken from here, not from AuthInfo
AccountingStoragePass=$MUNGE_SOCKET
# record GPU allocations too (sacct -o AllocTRES shows gres/gpu=N)
AccountingStorageTRES=gres/gpu
# keep sbatch --comment (the Snakemake plugin writes rule_<rule>[_wildcards_...] there)
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=$H NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem $node_gres State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
  if [ "$new" != "$(cat "$ETC/slurm.conf" 2>/dev/null || true)" ]; then
    printf '%s\n' "$new" >"$ETC/slurm.conf"
    rm -f "$DIR/running.conf" # changed: restart the Slurm daemons below
  fi
  cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=$H
DbdAddr=127.0.0.1
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
DebugLevel=info
EOF
  chmod 600 "$ETC/slurmdbd.conf"
}

start_slurm() {
  if [ ! -e "$DIR/running.conf" ]; then
    stop_pidfile "$RUN/slurmd.pid" slurmd
    stop_pidfile "$RUN/slurmctld.pid" slurmctld
  fi
  if ! pid_alive "$RUN/slurmdbd.pid"; then log "starting slurmdbd"; slurmdbd; fi
  wait_for 30 slurmdbd sacctmgr -n -P show cluster format=cluster
  if ! pid_alive "$RUN/slurmctld.pid"; then log "starting slurmctld"; slurmctld; fi
  wait_for 30 slurmctld bash -c 'scontrol ping | grep -q "is UP"'
  if ! pid_alive "$RUN/slurmd.pid"; then log "starting slurmd"; slurmd; fi
  touch "$DIR/running.conf"
}

node_ready() {
  local st
  st=$(sinfo -h -n "$H" -o %t)
  case "$st" in
    idle | mix | alloc) return 0 ;;
    *drain* | *drng* | *down* | *inval* | *fail*)
      scontrol update nodename="$H" state=resume >/dev/null 2>&1 || true ;;
  esac
  return 1
}

accounting_ready() {
  # the cluster must be registered in slurmdbd before jobs show in sacct
  [ -n "$(sacctmgr -n -P show cluster format=cluster)" ] && sacct -n -X >/dev/null
}

do_start() {
  check_preconditions
  mkdir -p "$ETC" "$RUN" "$LOG" "$DIR/slurmd" "$DIR/slurmctld"
  chmod 0755 "$DIR" "$ETC" "$RUN"
  install_packages
  command -v setpriv >/dev/null || cannot "setpriv (util-linux) is missing"
  start_munge
  start_mariadb
  write_config
  mkdir -p "$(dirname "$SYSTEM_CONF")"
  system_conf_is_ours || ln -s "$SLURM_CONF" "$SYSTEM_CONF"
  start_slurm
  wait_for "$TIMEOUT" "node $H" node_ready
  wait_for "$TIMEOUT" "accounting (sacct)" accounting_ready
  log "Slurm is up: node $H $(sinfo -h -n "$H" -o '%t, %c CPUs, %G'); SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
