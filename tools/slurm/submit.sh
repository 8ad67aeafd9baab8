#!/bin/bash
# Submits a Tessera batch to Slurm: a job array of N shards and a merge job that runs after all of
# them succeeded. Prints the two job ids.
#
#   tools/slurm/submit.sh --prompts FILE.jsonl --out DIR --shards N [--gpus-per-task G]
#                         [--sbatch "EXTRA SBATCH OPTIONS"] [-- tessera-cli batch options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prompts= out= shards= gpus= extra=
usage() {
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --prompts) prompts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --gpus-per-task) gpus=$2; shift 2 ;;
    --sbatch) extra=$2; shift 2 ;;
    --help|-h) usage ;;
    --) shift; break ;;
    *) echo "submit.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$prompts" ] && [ -n "$out" ] && [ -n "$shards" ] || usage
case $shards in ''|*[!0-9]*|0) echo "submit.sh: --shards expects a positive number" >&2; exit 2 ;; esac
prompts=$(realpath "$prompts")
mkdir -p "$out"
out=$(realpath "$out")

gpu_opts=()
[ -n "$gpus" ] && gpu_opts=(--gpus-per-task="$gpus")
# shellcheck disable=SC2206  # EXTRA SBATCH OPTIONS are split on spaces on purpose
extra_opts=($extra)
array_id=$(sbatch --parsable --chdir="$out" --array="0-$((shards - 1))" --export="ALL,TESSERA_SHARDS=$shards" \
  "${gpu_opts[@]}" "${extra_opts[@]}" \
  "$here/tessera-batch.sbatch" "$prompts" "$out" "$@")
array_id=${array_id%%;*}
merge_id=$(sbatch --parsable --chdir="$out" --dependency="afterok:$array_id" "${extra_opts[@]}" \
  "$here/tessera-merge.sbatch" "$out")
merge_id=${merge_id%%;*}
echo "array $array_id"
echo "merge $merge_id"
