#!/usr/bin/env bash
# Every tessera-cli command rejects what it does not understand with exit status 2 and a message:
# unknown options, stray arguments, an option left without its value, numbers out of range or not
# numbers at all. --help prints each command's usage with exit status 0.
set -uo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0

# expect STATUS PATTERN ARGS...: run the CLI, check its exit status and that stderr/stdout match.
expect() {
  local want="$1" pattern="$2"; shift 2
  (cd "$work" && "$cli" "$@") > "$work/out.txt" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -q -- "$pattern" "$work/out.txt"; then
    echo "FAIL: tessera-cli $* -> exit $rc (want $want, output matching '$pattern'):"; cat "$work/out.txt"
    fails=$((fails + 1))
  fi
}

for cmd in doctor generate inspect replay verify "bench decode" "bench bandwidth" "bench janus" default-job \
           "project create" "project list" "project show" "project search" "project export" "project recover"; do
  # shellcheck disable=SC2086
  expect 0 "tessera-cli $cmd" $cmd --help
  # shellcheck disable=SC2086
  expect 2 "unknown option --no-such-option" $cmd --no-such-option
  # shellcheck disable=SC2086
  expect 2 "unknown option --no-such-option" $cmd --no-such-option=1
done

# Stray arguments.
expect 2 "not expected: stray" generate --prompt x stray
expect 2 "not expected: stray" doctor stray
expect 2 "not expected: b.png" inspect a.png b.png
expect 2 "not expected: extra" project list "$work/p" extra
expect 2 "not expected: extra" default-job extra
# An option left without its value, at the end or followed by another option.
for opt in --out --prompt --seed --model --cfg; do
  expect 2 "$opt needs a value" generate --prompt x $opt
done
expect 2 "--out needs a value, got the option --json" generate --prompt x --out --json
expect 2 "--prompt needs a value" generate --prompt --seed 4
expect 2 "--limit needs a value" project list "$work/p" --limit
expect 2 "--out needs a value" replay a.png --out
# Seeds are 0 .. 2^64-1, typed in decimal.
for seed in -1 18446744073709551616 1.5 0x10 ""; do
  expect 2 "--seed: expects a whole number" generate --prompt x --seed "$seed"
done
expect 2 "--seed: expects a whole number" default-job --seed -1
expect 2 "--seed: expects a whole number" bench janus --seed -5
# Guidance and sampling numbers must be finite.
for cfg in nan inf -inf 1e999 abc; do
  expect 2 "--cfg: expects a finite number" generate --prompt x --cfg "$cfg"
done
expect 2 "--temperature: expects a finite number" generate --prompt x --temperature nan
expect 2 "--images: expects an integer" generate --prompt x --images 0
expect 2 "--threads: expects an integer" generate --prompt x --threads -2
expect 2 "--steps: expects an integer" bench decode --steps 0
expect 2 "--min-rating: expects an integer" project list "$work/p" --min-rating 9
# Required arguments.
expect 2 "--prompt is required" generate
expect 2 "FILE is required" inspect
expect 2 "DIR is required" project show
expect 2 "unknown command 'frobnicate'" project frobnicate
expect 2 "unknown benchmark 'nope'" bench nope
expect 2 "unknown command 'nope'" nope
# The largest seed is accepted and comes back in the recipe.
expect 0 "seed 18446744073709551615," generate --prompt x --seed 18446744073709551615 --out "$work/s.png"
expect 0 "seed        18446744073709551615" inspect "$work/s.png"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "cli arguments OK"
