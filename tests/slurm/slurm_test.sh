#!/bin/bash
# A real single-node Slurm cluster in a temporary folder: munged, slurmctld and slurmd on localhost
# from a generated slurm.conf. tools/slurm/submit.sh submits a 4-task job array over 40 prompts on
# the janus_tiny reference checkpoint and the merge job chained after it; then every prompt must be
# stored exactly once in the merged project, with a PNG whose own recipe names that prompt.
#
#   slurm_test.sh TESSERA_CLI SOURCE_DIR
#
# Exit status 77 (ctest SKIP_RETURN_CODE) when Slurm or munge is not installed or cannot start here.
# Every daemon started is stopped on exit, whatever happens.
set -uo pipefail
cli=$(realpath "$1")
src=$(realpath "$2")
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (apt-get install slurm-wlm munge)"
done

tmp=$(mktemp -d /tmp/tessera-slurm-XXXXXX)
pids=()
cleanup() {
  local code=$?
  # Stop in reverse order of start; each pid is one this script started (from its pid file).
  for f in "$tmp/slurmd.pid" "$tmp/slurmctld.pid" "$tmp/munged.pid"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  if [ "$code" -ne 0 ] && [ "$code" -ne 77 ]; then
    for log in "$tmp"/*.log "$tmp"/out/*.out; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
    done
  fi
  rm -rf "$tmp"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- munge, with its own key and socket
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge.key"
mkdir -p "$tmp/munge"
chmod 700 "$tmp/munge"
munged --force --socket="$tmp/munge/munge.socket" --key-file="$tmp/munge.key" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munge/seed" >/dev/null 2>&1 ||
  skip "munged would not start: $(tail -n 3 "$tmp/munged.log" 2>/dev/null)"

# --- slurm.conf on two free ports
port() { # a port nobody listens on
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo 0
}
ctld_port=$(port)
slurmd_port=$(port)
host=$(hostname -s)
user=$(id -un)
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/out"
cat >"$tmp/slurm.conf" <<CONF
ClusterName=tessera-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=tessera-node NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=10 State=UP
CONF
# slurmd initialises a cgroup plugin even with task/none: autodetect picks what this machine has.
echo "CgroupPlugin=autodetect" >"$tmp/cgroup.conf"
export SLURM_CONF="$tmp/slurm.conf"

slurmctld -c -f "$SLURM_CONF" >/dev/null 2>&1 || skip "slurmctld would not start: $(tail -n 3 "$tmp/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" -N tessera-node >/dev/null 2>&1 || skip "slurmd would not start: $(tail -n 3 "$tmp/slurmd.log" 2>/dev/null)"
up=0
for _ in $(seq 150); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1)
  case $state in idle*|mix*|alloc*) up=1; break ;; esac
  sleep 0.2
done
[ "$up" = 1 ] || skip "the node did not come up (state '${state:-none}'): $(tail -n 3 "$tmp/slurmd.log" 2>/dev/null)"

# --- the batch: 4 shards over 40 prompts, merge chained with afterok
n=40
for i in $(seq 0 $((n - 1))); do echo "{\"prompt\": \"slurm prompt $i of $n\", \"seed\": $((1000 + i))}"; done >"$tmp/prompts.jsonl"
ids=$(TESSERA_CLI=$cli "$src/tools/slurm/submit.sh" --prompts "$tmp/prompts.jsonl" --out "$tmp/out" --shards 4 \
  -- --model "$src/tests/data/reference/janus_tiny") || fail "submit.sh failed"
array_id=$(echo "$ids" | awk '/^array/ {print $2}')
merge_id=$(echo "$ids" | awk '/^merge/ {print $2}')
[ -n "$array_id" ] && [ -n "$merge_id" ] || fail "submit.sh printed no job ids: $ids"
echo "array job $array_id, merge job $merge_id"

for _ in $(seq 900); do
  [ -z "$(squeue -h -j "$array_id,$merge_id" 2>/dev/null)" ] && break
  sleep 0.2
done
[ -z "$(squeue -h -j "$array_id,$merge_id" 2>/dev/null)" ] && echo "jobs finished" || fail "jobs still queued after 180 s: $(squeue)"
# Without accounting, finished jobs are remembered by slurmctld for MinJobAge (300 s by default).
for id in "$array_id"_0 "$array_id"_1 "$array_id"_2 "$array_id"_3 "$merge_id"; do
  st=$(scontrol show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1)
  [ "$st" = "JobState=COMPLETED" ] || fail "job $id ended as '${st:-unknown}'"
done

# --- every prompt exactly once, each with its media, in the merged project
project=$tmp/out/project
[ -f "$project/project.db" ] || fail "no merged project at $project"
list=$("$cli" project list "$project" --json --limit 1000) || fail "project list failed"
echo "$list" | grep -q "\"generations\": $n," || fail "the merged project does not hold $n generations"
if echo "$list" | grep -q '"asset_id": null'; then fail "a generation has no media"; fi
for i in $(seq 0 $((n - 1))); do
  c=$(echo "$list" | grep -c "\"prompt\": \"slurm prompt $i of $n\"")
  [ "$c" = 1 ] || fail "prompt $i stored $c times"
done
# The media files themselves: 40 PNGs, and the recipe each carries names one prompt, each prompt once.
files=("$project"/media/*.png)
[ "${#files[@]}" = "$n" ] || fail "expected $n media files, found ${#files[@]}"
for f in "${files[@]}"; do "$cli" inspect "$f" | grep -o "slurm prompt [0-9]* of $n" | head -n 1; done | sort | uniq -c >"$tmp/media_prompts"
[ "$(wc -l <"$tmp/media_prompts")" = "$n" ] || fail "the media files carry $(wc -l <"$tmp/media_prompts") distinct prompts, not $n"
if awk '$1 != 1' "$tmp/media_prompts" | grep -q .; then fail "a prompt has more than one media file"; fi
# Every shard did its own quarter: lines k, k+4, ... in shard k.
for k in 0 1 2 3; do
  c=$("$cli" project list "$tmp/out/shards/shard-$k" --json --limit 1000 | grep -c '"prompt": "slurm prompt')
  [ "$c" = $((n / 4)) ] || fail "shard $k stored $c generations, expected $((n / 4))"
  # The merged project's history, filtered by batch and shard, gives back the same quarter.
  got=$("$cli" project list "$project" --batch prompts --shard "$k" --json --limit 1000 |
    grep -o '"prompt": "slurm prompt [0-9]*' | grep -o '[0-9]*$' | sort -n | tr '\n' ' ')
  want=$(seq "$k" 4 $((n - 1)) | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "merged history for shard $k lists prompts '$got', expected '$want'"
done
echo "PASS: $n prompts over 4 Slurm array tasks, merged once each with their media"
