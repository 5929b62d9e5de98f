#!/usr/bin/env bash
# Single-node Slurm "cluster" on localhost, for CI tests of sharded jobs
# (e.g. `vitq calibrate --shard auto` inside `sbatch --array`).
#
# Built for Debian 12 (slurm-wlm 22.05, munge 0.5.15), running as root in a
# container without systemd or a usable cgroup hierarchy.  Everything the
# daemons write (config, munge key and socket, state, spool, logs, pid files)
# lives in a private state directory, so nothing in /etc or /run is touched.
#
# Usage:
#   slurm_local.sh install        # apt-get the packages (idempotent)
#   slurm_local.sh start DIR      # config + munged + slurmctld + slurmd, wait for node idle
#   slurm_local.sh stop DIR       # cancel leftover jobs, stop the daemons started from DIR
#
# After `start`, point client commands (sbatch, squeue, sinfo, scontrol) at
# the private config; `start` prints the line to eval:
#   eval "$(scripts/scaleout/slurm_local.sh start /tmp/slurm)"   # sets SLURM_CONF
# Human-readable progress goes to stderr, so only the export line is on stdout.
#
# Tunables (environment):
#   SLURM_LOCAL_CTLD_PORT    slurmctld port (default 6817)
#   SLURM_LOCAL_SLURMD_PORT  slurmd port (default 6818)
#   SLURM_LOCAL_TIMEOUT      seconds to wait for the node to become idle (default 60)
set -euo pipefail

# The exact packages: the two daemons, the client tools, and munge (auth).
# slurm-wlm-basic-plugins, libmunge2, libhwloc15, liblua5.1-0 come as Depends.
PACKAGES=(slurmctld slurmd slurm-client munge)

CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-6818}
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}

log() { printf 'slurm_local: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { # [exit code]: prints the header comment
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

# ---------------------------------------------------------------- install --
cmd_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        # dpkg-query is instant; skip apt entirely when all are installed.
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "already installed: ${PACKAGES[*]}"
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "install needs root"
    export DEBIAN_FRONTEND=noninteractive
    # Lock::Timeout: wait for a concurrent apt/dpkg instead of failing at once.
    local apt=(apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=600
               -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    log "installing: ${missing[*]}"
    # A fresh image often has no package lists: update once and retry.
    if ! "${apt[@]}" install "${missing[@]}"; then
        log "install failed; running apt-get update and retrying"
        apt-get -q -o DPkg::Lock::Timeout=600 update
        "${apt[@]}" install "${missing[@]}"
    fi
    # The postinst scripts' invoke-rc.d starts nothing without an init (no
    # runlevel => "action not allowed"; policy-rc.d, if any, denies too), and
    # /etc/init.d/slurm* exit 0 without /etc/slurm/slurm.conf, so the install
    # neither fails nor leaves system daemons behind.  We never use them.
}

# ---------------------------------------------------------------- helpers --
# Absolute path without requiring it to exist yet.
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }

# Is PID running?  A dead daemon lingers as a zombie until PID 1 reaps it
# (in containers PID 1 is often not an init and reaps late, or never), and
# kill -0 succeeds on a zombie, so look at the process state too.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# pid from a pid file if that process is alive *and* is the expected program
# (guards against a stale pid file whose pid got reused).
live_pid() { # pidfile comm
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2"* ]] || return 1
    printf '%s\n' "$pid"
}

# Is something already listening on a TCP port?  (/proc/net/tcp{,6}, state 0A)
port_busy() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END {exit !f}' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

tail_logs() {
    local f
    for f in "$DIR"/log/*.log "$DIR"/log/*.out; do
        [[ -s $f ]] || continue
        printf '\n===== %s (last 30 lines) =====\n' "$f" >&2
        tail -n 30 "$f" >&2
    done
    if [[ -n ${SLURM_CONF:-} && -f $SLURM_CONF ]]; then
        printf '\n===== sinfo -R =====\n' >&2
        timeout 10 sinfo -R >&2 2>&1 || true
    fi
}

# State of our node as sinfo prints it (idle, idle*, drain, down*, ...).
node_state() { timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1; }

setup_paths() {
    [[ -n ${1:-} ]] || usage
    DIR=$(abspath "$1")
    # slurm.conf has no quoting: paths with blanks or '#' would be cut short.
    [[ $DIR != *[[:space:]#]* ]] || die "DIR must not contain blanks or '#': $DIR"
    # Node name must equal the short hostname: slurmctld refuses to run if
    # SlurmctldHost is not this host.  slurmd gets it explicitly via -N.
    NODE=$(uname -n); NODE=${NODE%%.*}
    export SLURM_CONF="$DIR/etc/slurm.conf"
    MUNGE_SOCKET="$DIR/munge/munge.socket.2"
    PID_MUNGED="$DIR/run/munged.pid"
    PID_CTLD="$DIR/run/slurmctld.pid"
    PID_SLURMD="$DIR/run/slurmd.pid"
}

print_export() {
    log "cluster up: node $NODE, config $SLURM_CONF"
    printf 'export SLURM_CONF=%q\n' "$SLURM_CONF"
}

# ------------------------------------------------------------------ start --
write_config() {
    local hw cpus mem
    # `slurmd -C` prints the real topology, e.g.
    #   NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    # Using it verbatim avoids slurmd draining the node for a config mismatch.
    hw=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=' || true)
    [[ -n $hw ]] || die "'slurmd -C' printed no NodeName line; is slurmd installed?"
    hw=${hw#NodeName=* }                       # keep only the attributes
    cpus=$(sed -n 's/.*\bCPUs=\([0-9]*\).*/\1/p' <<<"$hw")
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
    log "node $NODE: CPUs=$cpus RealMemory=${mem}MB (from slurmd -C)"

    cat >"$SLURM_CONF" <<EOF
# Generated by slurm_local.sh: private single-node cluster, state in $DIR
ClusterName=vitqlocal
# Must be this host's short name; the (address) lets clients reach it even if
# the hostname does not resolve.
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
# We are root and run the daemons as root; jobs may run as root too.
SlurmUser=root
SlurmdUser=root
DisableRootJobs=NO
# munge auth through our private munged socket (not /run/munge).
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
# Private state, spool, logs and pid files.
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$PID_CTLD
SlurmdPidFile=$PID_SLURMD
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups / systemd: plugins that only need /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
# Allocate single CPUs (not whole cores) and ignore memory, so N CPUs run N
# one-CPU array tasks at once even with hyperthreads.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Start batch jobs as soon as they are submitted (default defers up to 3 s).
SchedulerParameters=batch_sched_delay=0
# Come back by itself after a restart.
ReturnToService=2
# Never purge finished job records (0 = keep; fine for a short-lived test
# cluster, up to MaxJobCount=10000 records).  Why: there is no accounting
# (sacct), so "scontrol show job" is the only record of exit codes; an
# --dependency=afterok:<id> on an already purged job is silently treated as
# satisfied; and sbatch --wait polls at 2, 10, 42, 74... s unless
# MinJobAge/2 <= 2, so with 0 it polls every 2 s.
MinJobAge=0
# A dependent job whose dependency can never be met (afterok on a failed job)
# is cancelled instead of pending forever and hanging a test.
DependencyParameters=kill_invalid_depend
# Avoid "Configured MailProg is invalid" (no mailer installed).
MailProg=/bin/true
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MaxArraySize=10001
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    # slurmd 22.05 always initialises a cgroup plugin, even though none of
    # the plugins above use it.  Its default "autodetect" picks cgroup/v2 on
    # a cgroup-v2 host, whose init wants systemd over dbus (or a writable
    # /sys/fs/cgroup) and kills slurmd in a container ("slurmd initialization
    # failed").  22.05 has no CgroupPlugin=disabled, but cgroup/v1's init
    # touches nothing, so pin it.  (slurmd reads cgroup.conf next to slurm.conf.)
    cat >"$DIR/etc/cgroup.conf" <<EOF
# Generated by slurm_local.sh: cgroups are not used (proctrack/linuxproc,
# task/none); pin the plugin whose init needs neither systemd nor cgroupfs.
CgroupPlugin=cgroup/v1
CgroupAutomount=no
EOF
    # Empty plugstack (default is next to slurm.conf): no SPANK plugins.
    : >"$DIR/etc/plugstack.conf"
}

start_munged() {
    local key="$DIR/munge/munge.key"
    if [[ ! -s $key ]]; then
        # munged insists the key is owned by its user and not group/other
        # readable; mungekey creates it 0600.
        mungekey --create --keyfile="$key" 2>>"$DIR/log/munged.out" \
            || dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
        chmod 0400 "$key"
    fi
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    # munged forks and writes its pid file.  --force turns its path checks
    # into warnings: without it, munged refuses to start when any parent of
    # DIR is group/world-writable without the sticky bit (e.g. a CI workspace).
    munged --force --socket="$MUNGE_SOCKET" --key-file="$key" \
        --pid-file="$PID_MUNGED" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" >>"$DIR/log/munged.out" 2>&1 \
        || fail_start "munged failed to start"
    # Check a credential round trip before starting slurm on top of it.
    local i
    for ((i = 0; i < 50; i++)); do
        munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail_start "munge credential round trip failed"
}

# Print the logs, stop whatever did start (no half-up cluster left), exit 1.
fail_start() {
    tail_logs
    cmd_stop "$DIR" || true
    die "$1 (daemons stopped; logs in $DIR/log)"
}

cmd_start() {
    setup_paths "${1:-}"
    [[ $EUID -eq 0 ]] || die "start needs root (SlurmUser=root)"
    command -v slurmctld >/dev/null || die "slurmctld not found; run '$0 install' first"

    # Already running from this DIR?  Reuse if healthy, refuse if half up.
    local running=0 total=0 f
    for f in "$PID_MUNGED:munged" "$PID_CTLD:slurmctld" "$PID_SLURMD:slurmd"; do
        total=$((total + 1))
        live_pid "${f%:*}" "${f##*:}" >/dev/null && running=$((running + 1))
    done
    if ((running == total)); then
        case "$(node_state)" in
            idle | mixed | allocated | completing)
                log "already running from $DIR; reusing"
                print_export; return 0 ;;
        esac
    fi
    if ((running > 0)); then
        die "$running of $total daemons already running from $DIR but the node is not usable; run '$0 stop $DIR' first"
    fi

    # Another slurm (or our own from a different DIR) on the same ports would
    # make slurmctld/slurmd fail with a confusing bind error.
    for f in "$CTLD_PORT" "$SLURMD_PORT"; do
        ! port_busy "$f" || die "TCP port $f already in use (another slurmctld/slurmd?); set SLURM_LOCAL_CTLD_PORT/SLURM_LOCAL_SLURMD_PORT"
    done

    mkdir -p "$DIR"/{etc,state,spool,log,run}
    # Socket dir: 0755, as munged wants it searchable by all (clients) but
    # writable only by its owner.  The key itself is 0400.
    mkdir -p "$DIR/munge"
    chmod 0755 "$DIR/munge"
    write_config

    local t0=$SECONDS
    start_munged
    log "munged up"

    # Both daemons fork into the background and write their pid files.
    # slurmctld -i: ignore unreadable/old state instead of refusing to start.
    slurmctld -i -f "$SLURM_CONF" >>"$DIR/log/slurmctld.out" 2>&1 \
        || fail_start "slurmctld failed to start"
    slurmd -N "$NODE" -f "$SLURM_CONF" >>"$DIR/log/slurmd.out" 2>&1 \
        || fail_start "slurmd failed to start"

    # Wait (bounded) until the controller answers and the node is idle.
    local state="" why="not idle within ${TIMEOUT} s"
    while ((SECONDS - t0 < TIMEOUT)); do
        state=$(node_state || true)
        case $state in
            idle) log "node $NODE idle after $((SECONDS - t0)) s"
                  print_export; return 0 ;;
            drain* | *drain | fail*)
                why="node is $state"; break ;;   # a config mismatch will not fix itself
        esac
        # A daemon that died will not come back; fail now, not at the timeout.
        # (Second look after 1 s: the pid file appears only once it forked.)
        live_pid "$PID_CTLD" slurmctld >/dev/null || { sleep 1; live_pid "$PID_CTLD" slurmctld >/dev/null || { why="slurmctld exited"; break; }; }
        live_pid "$PID_SLURMD" slurmd >/dev/null || { sleep 1; live_pid "$PID_SLURMD" slurmd >/dev/null || { why="slurmd exited"; break; }; }
        sleep 0.5
    done
    log "node state: '${state:-<no answer from slurmctld>}'"
    fail_start "cluster did not come up: $why after $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------- stop --
stop_one() { # pidfile comm
    local pid i
    pid=$(live_pid "$1" "$2") || { rm -f "$1"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do          # up to 10 s, then force
        alive "$pid" || { rm -f "$1"; log "stopped $2 ($pid)"; return 0; }
        sleep 0.1
    done
    log "$2 ($pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$1"
}

cmd_stop() {
    setup_paths "${1:-}"
    [[ -d $DIR ]] || { log "$DIR does not exist; nothing to stop"; return 0; }
    # Cancel leftover jobs first so no slurmstepd/job processes outlive slurmd.
    if live_pid "$PID_CTLD" slurmctld >/dev/null && [[ -f $SLURM_CONF ]]; then
        local i
        timeout 10 scancel --quiet --user=root 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            [[ -z "$(timeout 5 squeue -h -t R,CG -o %i 2>/dev/null || true)" ]] && break
            sleep 0.5
        done
    fi
    stop_one "$PID_SLURMD" slurmd
    stop_one "$PID_CTLD" slurmctld
    stop_one "$PID_MUNGED" munged
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
}

# ------------------------------------------------------------------- main --
case ${1:-} in
    install) cmd_install ;;
    start) cmd_start "${2:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
esac
