#!/usr/bin/env bash
# tessera-cli generate --project under SIGKILL and under concurrent writers.
#   project_kill_stress.sh CLI [KILLS] [WRITERS] [RUNS_PER_WRITER]
# KILLS times: a 64-image `generate --project` is killed by SIGKILL at a random moment, then
# `project recover` runs. After each: the integrity check passes, a second recover finds nothing to
# clean (no orphans or temporary files left), no job is 'running' or 'queued', no runner lock file
# is left, and no row names a missing file. Then WRITERS processes each store RUNS_PER_WRITER
# pictures into one project at the same time: every one must be stored. Prints one JSON line.
set -uo pipefail
cli="$1"
kills="${2:-10}"
writers="${3:-4}"
runs="${4:-10}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
corrupt=0 orphans=0 stale=0 missing=0 killed_mid_store=0

"$cli" project create "$work/p" > /dev/null || { echo "project create failed"; exit 1; }
for ((i = 1; i <= kills; i++)); do
    "$cli" generate --prompt "kill $i" --seed "$i" --images 64 --out "$work/k.png" --project "$work/p" \
        > /dev/null 2>&1 &
    pid=$!
    # Anywhere from loading the model to storing the last picture (a run takes about a second here).
    sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
    if kill -9 "$pid" 2> /dev/null; then killed_mid_store=$((killed_mid_store + 1)); fi
    wait "$pid" 2> /dev/null
    "$cli" project recover "$work/p" --json > "$work/r1.json" 2>&1 || { corrupt=$((corrupt + 1)); continue; }
    grep -q '"integrity_ok": true' "$work/r1.json" || corrupt=$((corrupt + 1))
    "$cli" project recover "$work/p" --json > "$work/r2.json" 2>&1
    grep -q '"orphan_files_removed": 0' "$work/r2.json" && grep -q '"temp_files_removed": 0' "$work/r2.json" \
        || orphans=$((orphans + 1))
    "$cli" project list "$work/p" --json > "$work/l.json" 2>&1
    if grep -qE '"state": "(running|queued)"' "$work/l.json" || [ -n "$(ls -A "$work/p/.runners" 2> /dev/null)" ]; then
        stale=$((stale + 1))
    fi
    grep -q '"assets_missing": 0' "$work/l.json" || missing=$((missing + 1))
done

"$cli" project create "$work/w" > /dev/null || { echo "project create failed"; exit 1; }
pids=()
for ((w = 0; w < writers; w++)); do
    (
        for ((r = 0; r < runs; r++)); do
            "$cli" generate --prompt "writer $w run $r" --seed $((w * 1000 + r)) --out "$work/w$w.png" \
                --project "$work/w" > /dev/null 2>> "$work/writers.err" || echo "writer $w run $r failed" >> "$work/writers.err"
        done
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
stored=$("$cli" project list "$work/w" --json | grep -m1 -oE '"generations": [0-9]+' | grep -oE '[0-9]+$')
"$cli" project recover "$work/w" --json > "$work/rw.json" 2>&1
writers_ok=1
grep -q '"integrity_ok": true' "$work/rw.json" || writers_ok=0

printf '{"kills": %d, "killed_while_running": %d, "corrupt": %d, "orphans_after_recover": %d, "stale_jobs_or_locks": %d, "rows_naming_missing_files": %d, "writers": %d, "runs_per_writer": %d, "rows_stored": %d, "writers_integrity_ok": %s}\n' \
    "$kills" "$killed_mid_store" "$corrupt" "$orphans" "$stale" "$missing" "$writers" "$runs" "$stored" \
    "$([ $writers_ok -eq 1 ] && echo true || echo false)"
[ -s "$work/writers.err" ] && { echo "writer errors:"; head -5 "$work/writers.err"; }
[ "$corrupt" -eq 0 ] && [ "$orphans" -eq 0 ] && [ "$stale" -eq 0 ] && [ "$missing" -eq 0 ] &&
    [ "$stored" -eq $((writers * runs)) ] && [ "$writers_ok" -eq 1 ]
