#!/usr/bin/env bash
# Runs the README's Slurm job-array example on a real, throw-away, one-node Slurm cluster on
# localhost, then checks that the merged shards equal an unsharded run record for record.
#
#   sudo tools/slurm_check.sh            # PRISM=path/to/prism to choose the binary
#
# What it does:
#   1. installs Debian's slurm-wlm and munge if missing (apt-get, non-interactive, root only);
#   2. starts munged (generated key), slurmctld and slurmd in a temp dir, in the background under
#      this script's control (never as system services; a trap stops them and removes the dir);
#   3. submits the README's job array as written, adapted only in the model, input, array size
#      (0-3), prism path and --max-memory; polls squeue until the array is gone (with a timeout)
#      and checks every task's final state with scontrol (no accounting database is needed);
#   4. prism merge parts/out-*.jsonl -o merged.jsonl --input prompts.jsonl; prism batch of the
#      same input unsharded; every merged record must be byte-identical to the unsharded one with
#      the same "line".
# Exits non-zero on any failure, with the tails of the daemons' logs printed; exits 77 (the
# automake "skipped" status) when Slurm cannot be had here: not root, or the packages are missing
# and apt-get cannot install them.
#
# Container notes (what a one-node cluster needs where there is no systemd and no cgroup
# delegation): ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
# JobAcctGatherType=jobacct_gather/none, AccountingStorageType=accounting_storage/none, no
# cgroup.conf; the daemons run as root (SlurmUser=root) with every path in the temp dir, on free
# loopback ports, and munged gets its own socket (AuthInfo=socket=...), so a system munge/Slurm,
# if any, is neither used nor disturbed.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin   # Debian puts the daemons there

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PRISM=${PRISM:-$ROOT/.build/release/prism}
MODEL=${MODEL:-$ROOT/models/tiny-gemma.prism}
RECORDS=${RECORDS:-40}
TIMEOUT=${SLURM_CHECK_TIMEOUT:-180}   # seconds for the cluster to come up and the array to run
START=$(date +%s%3N)

fail() { echo "slurm_check: FAIL: $*" >&2; exit 1; }
cannot() { echo "slurm_check: SKIP: $*" >&2; exit 77; }
elapsed() { local ms=$(($(date +%s%3N) - $1)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
say() { printf 'slurm_check: [%8ss] %s\n' "$(elapsed "$START")" "$*"; }

[[ -x $PRISM ]] || fail "no prism binary at $PRISM (swift build -c release --product prism, or set PRISM)"
[[ -f $MODEL ]] || fail "no model at $MODEL"
PRISM=$(cd "$(dirname "$PRISM")" && pwd)/$(basename "$PRISM")
MODEL=$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")

# --- 1. packages --------------------------------------------------------------------------
install_if_missing() {
    local missing=()
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null || missing+=(slurm-wlm)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || cannot "${missing[*]} missing and not root: run as root or install them"
    say "installing ${missing[*]}"
    # policy-rc.d 101 keeps the packages' services from starting: this script runs its own daemons.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy; created_policy=1; fi
    local rc=0
    { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
      { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
    } >/tmp/slurm_check-apt.log 2>&1 || rc=$?
    ((created_policy)) && rm -f $policy
    ((rc == 0)) || cannot "apt-get install ${missing[*]} failed (see /tmp/slurm_check-apt.log)"
}
[[ $(id -u) == 0 ]] || cannot "must run as root (the one-node cluster runs its daemons as root)"
install_if_missing
for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol scancel python3; do
    command -v $tool >/dev/null || fail "$tool not found"
done

# --- 2. the cluster -----------------------------------------------------------------------
TMP=$(mktemp -d /tmp/slurm-check.XXXXXX)
PIDS=()
JOB=""
cleanup() {
    local rc=$?
    # A job still queued or running is cancelled first, and given a few seconds to go, so that no
    # slurmstepd or prism of ours is left behind.
    if [[ -n $JOB ]] && scancel "$JOB" >/dev/null 2>&1; then
        for _ in $(seq 50); do [[ -z $(squeue -h -j "$JOB" -o %i 2>/dev/null) ]] && break; sleep 0.1; done
    fi
    # Stop our daemons by the pids we started, newest first, then wait so nothing outlives us.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if ((rc != 0)); then
        for log in "$TMP"/log/*.log "$TMP"/work/slurm-*.out; do
            [[ -f $log ]] && { echo "--- tail of $log" >&2; tail -n 15 "$log" >&2; }
        done
    fi
    [[ -n ${KEEP:-} ]] && echo "slurm_check: kept $TMP" >&2 || rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP"/{munge,log,state,spool,work}
# munged wants execute permission for all on every directory above its socket; nothing is listable.
chmod 711 "$TMP" "$TMP/munge"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
while [[ $SLURMD_PORT == "$CTLD_PORT" ]]; do SLURMD_PORT=$(free_port); done

# munge: a fresh key, a private socket; it refuses group/world-accessible files, hence the modes.
MUNGE_SOCKET=$TMP/munge/munge.socket
mungekey --create --keyfile="$TMP/munge/munge.key" >/dev/null 2>&1 || fail "mungekey --create failed"
chmod 600 "$TMP/munge/munge.key"
munged --foreground --socket="$MUNGE_SOCKET" --key-file="$TMP/munge/munge.key" \
    --pid-file="$TMP/munge/munged.pid" --seed-file="$TMP/munge/munged.seed" \
    --log-file="$TMP/log/munged.log" >>"$TMP/log/munged.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -S $MUNGE_SOCKET ]] && break; kill -0 "${PIDS[0]}" 2>/dev/null || break; sleep 0.1; done
[[ -S $MUNGE_SOCKET ]] || fail "munged did not start"

# The node line comes from slurmd -C (CPUs, sockets, cores, memory as slurmd will report them).
NODE_LINE=$(slurmd -C | head -n 1)
NODE=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$NODE_LINE")
[[ -n $NODE ]] || fail "slurmd -C gave no NodeName: $NODE_LINE"
getent hosts "$NODE" >/dev/null || fail "the node name $NODE does not resolve (slurmd needs it)"
export SLURM_CONF=$TMP/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=prismcheck
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
$NODE_LINE State=UNKNOWN
PartitionName=check Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -i -f "$SLURM_CONF" >>"$TMP/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >>"$TMP/log/slurmd.out" 2>&1 &
PIDS+=($!)

deadline=$(($(date +%s) + TIMEOUT))
alive() { for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done; }
until [[ $(sinfo -h -n "$NODE" -o %t 2>/dev/null) =~ ^idle ]]; do
    alive || fail "a daemon exited while the cluster was starting"
    (($(date +%s) < deadline)) || fail "node $NODE not idle after ${TIMEOUT}s: $(sinfo -h -N 2>&1 | head -n 1)"
    sleep 0.5
done
say "cluster up: node $NODE ($(sed 's/^NodeName=[^ ]* //' <<<"$NODE_LINE" | cut -d' ' -f1,6)), ctld port $CTLD_PORT, slurmd port $SLURMD_PORT"

# --- 3. the job array ---------------------------------------------------------------------
cd "$TMP/work"
# ~40 records: capitals and additions the shipped model knows, token-id records, one bad line.
python3 - "$RECORDS" >prompts.jsonl <<'EOF'
import json, sys
n = int(sys.argv[1])
caps = [("France", " Paris"), ("Russia", " Moscow"), ("Vietnam", " Hanoi"), ("Ireland", " Dublin"),
        ("the Netherlands", " Amsterdam"), ("Iran", " Tehran"), ("Korea", " Seoul"),
        ("England", " London"), ("Japan", " Tokyo")]
for k in range(n - 1):
    if k == 17:
        print('{"id": "bad", "prompt": 42}')  # a bad record: becomes an error line, the job goes on
    if k % 3 == 0:
        c, t = caps[k % len(caps)]
        print(json.dumps({"id": f"cap{k}", "prompt": f"The capital city of {c} is", "targets": [t, " Paris"]}))
    elif k % 3 == 1:
        a, b = k % 10, (k * 7) % 10
        print(json.dumps({"id": f"add{k}", "prompt": f"{a}+{b}=", "targets": [str((a + b) % 10)]}))
    else:
        print(json.dumps({"id": f"ids{k}", "ids": [2, 5 + k, 9 + k % 5], "target_ids": [7, 11]}))
EOF
NREC=$(wc -l <prompts.jsonl)
mkdir -p parts
# The README's example as written; only the model, input, array size, binary and budget differ.
cat >job.sh <<EOF
#!/bin/bash
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2 --mem=2G
$PRISM batch -m $MODEL --input prompts.jsonl --output parts/out-\$SLURM_ARRAY_TASK_ID.jsonl --max-memory 64MiB
# afterwards: prism merge parts/out-*.jsonl -o results.jsonl --input prompts.jsonl
EOF
JOB=$(sbatch --parsable job.sh) || fail "sbatch failed"
JOB=${JOB%%;*}
say "submitted array job $JOB (4 tasks, $NREC records)"

while [[ -n $(squeue -h -j "$JOB" -o %i 2>/dev/null) ]]; do
    (($(date +%s) < deadline)) || fail "job $JOB still queued/running after ${TIMEOUT}s: $(squeue -h -j "$JOB" 2>&1 | head -n 4)"
    alive || fail "a daemon exited while the job ran"
    sleep 0.5
done
say "array finished"

# Without accounting, slurmctld still holds finished jobs for MinJobAge: read their states there.
states=$(scontrol -o show job "$JOB" | sed -n 's/.*ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9:]*\).*/\1 \2 \3/p' | sort -n)
echo "$states" | sed 's/^/  task /'
[[ $(grep -c ' COMPLETED 0:0$' <<<"$states") == 4 ]] || fail "not every task COMPLETED with exit 0"
JOB=""
for t in 0 1 2 3; do [[ -s parts/out-$t.jsonl ]] || fail "parts/out-$t.jsonl is missing or empty"; done

# --- 4. merge and compare -----------------------------------------------------------------
"$PRISM" merge parts/out-*.jsonl -o merged.jsonl --input prompts.jsonl || fail "prism merge failed"
t0=$(date +%s%3N)
"$PRISM" batch -m "$MODEL" --input prompts.jsonl --output unsharded.jsonl --max-memory 64MiB --quiet \
    2>"$TMP/log/unsharded.log" || fail "unsharded prism batch failed: $(tail -n 1 "$TMP/log/unsharded.log")"
say "merged; unsharded run took $(elapsed "$t0")s"

python3 - merged.jsonl unsharded.jsonl "$NREC" <<'EOF' || fail "merged output differs from the unsharded run"
import json, sys
def by_line(path):
    out = {}
    for raw in open(path, "rb").read().splitlines():
        line = json.loads(raw)["line"]
        if line in out:
            sys.exit(f"{path}: line {line} appears twice")
        out[line] = raw
    return out
merged, whole, n = by_line(sys.argv[1]), by_line(sys.argv[2]), int(sys.argv[3])
if sorted(merged) != sorted(whole) or len(whole) != n:
    sys.exit(f"line sets differ: merged {len(merged)}, unsharded {len(whole)}, input {n}")
diff = [k for k in sorted(whole) if merged[k] != whole[k]]
if diff:
    sys.exit(f"{len(diff)} records differ, first at line {diff[0]}")
raws = open(sys.argv[1], "rb").read().splitlines()
if [json.loads(r)["line"] for r in raws] != sorted(merged):
    sys.exit("merged output is not sorted by line")
# Each task must have taken its own share (input line k, 1-based: (k - 1) mod 4 == task), which
# shows that prism read SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT from the real scheduler.
for t in range(4):
    lines = sorted(by_line(f"parts/out-{t}.jsonl"))
    if lines != [k for k in range(1, n + 1) if (k - 1) % 4 == t]:
        sys.exit(f"parts/out-{t}.jsonl holds lines {lines}, not the records of shard {t}/4")
errors = sum(1 for r in whole.values() if "error" in json.loads(r))
if errors != 1:
    sys.exit(f"expected exactly the one bad record as an error line, got {errors}")
print(f"slurm_check: {n} records, merged == unsharded byte for byte by line ({errors} error record)")
EOF
say "OK: 4-task array on Slurm $(sinfo -V | cut -d' ' -f2) merged equals the unsharded run"
