#!/usr/bin/env bash
# The CLI and studio tests must fail, not skip, when the bundled janus_tiny does not load: run them on
# a copy of the test data whose janus_tiny config.json is broken (text hidden size 64 -> 128, so every
# LM tensor is mis-shaped) and expect failures. An intact copy is run through the CLI first, so the
# failure is shown to come from the broken config and not from the copying.
# Usage: broken_model_fails.sh TESSERA_CLI ROUNDTRIP_SCRIPT [SCREENSHOT_TEST_COMMAND...]
set -uo pipefail
cli="$1"
roundtrip="$2"
screens=("${@:3}")
data="$(cd "$(dirname "$0")/../data" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/good/reference" "$work/broken/reference"
cp -r "$data/reference/janus_tiny" "$work/good/reference/"
cp -r "$data/reference/janus_tiny" "$work/broken/reference/"
cfg="$work/broken/reference/janus_tiny/config.json"
sed -i '0,/"hidden_size": 64/s//"hidden_size": 128/' "$cfg"
if cmp -s "$cfg" "$data/reference/janus_tiny/config.json"; then echo "could not break the config"; exit 1; fi

if ! TESSERA_DATA_DIR="$work/good" "$roundtrip" "$cli" > "$work/good.txt" 2>&1; then
  cat "$work/good.txt"; echo "the CLI round trip failed on an intact copy of janus_tiny"; exit 1
fi
if TESSERA_DATA_DIR="$work/broken" "$roundtrip" "$cli" > "$work/broken.txt" 2>&1; then
  cat "$work/broken.txt"; echo "the CLI round trip passed with a broken janus_tiny"; exit 1
fi
grep -q "hidden\|shape\|janus_tiny" "$work/broken.txt" || { cat "$work/broken.txt"; echo "no error naming the model"; exit 1; }
echo "CLI round trip with a broken janus_tiny: fails, as it must"

if [ "${#screens[@]}" -gt 0 ]; then
  QT_QPA_PLATFORM=xcb TESSERA_DATA_DIR="$work/broken" "${screens[@]}" \
    --gtest_filter='StudioScreenshots.RealJanusTinyGeneration:StudioScreenshots.CliProjectOpensAndBranchesIntoItsTree' \
    > "$work/screens.txt" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || grep -q "\[  SKIPPED \]" "$work/screens.txt" \
     || [ "$(grep -o '^\[  FAILED  \] StudioScreenshots\.[A-Za-z]*' "$work/screens.txt" | sort -u | wc -l)" -ne 2 ]; then
    cat "$work/screens.txt"; echo "the studio tests did not fail with a broken janus_tiny (exit $rc)"; exit 1
  fi
  echo "studio janus_tiny tests with a broken janus_tiny: both fail, as they must"
fi
