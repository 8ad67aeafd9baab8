#!/usr/bin/env bash
# `./tessera train-demo --quick` (tools/train-demo.sh): world, the four trainings, eval-shapes and the
# model cards run end to end on a few steps; then `default-job` (what `./tessera run --headless` runs)
# draws with the quick shapes-janus, reads the picture back with the quick shapes-igllm and re-renders it.
# The models are useless; only the plumbing is checked.
set -euo pipefail
cli="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Exit 77 (skipped) where no Vulkan device exists: the world is drawn by the Vulkan renderer.
if ! "$cli" render "$root/docs/examples/scenes/three_objects.scene" --out "$work/probe.png" --size 8x8 \
     > /dev/null 2>&1; then
  echo "no Vulkan device: skipped"; exit 77
fi

bash "$root/tools/train-demo.sh" "$cli" "$work/demo" --quick --install "$work/models" > "$work/demo.txt" 2>&1 ||
  { cat "$work/demo.txt"; echo "train-demo --quick failed"; exit 1; }
for m in shapes-vq shapes-janus shapes-shuffle shapes-igllm; do
  for f in config.json model.safetensors MODEL.md metrics.json; do
    test -s "$work/models/$m/$f" || { echo "missing $m/$f"; exit 1; }
  done
done
test -s "$work/models/shapes-shuffle/token_shuffle.safetensors" -a -s "$work/models/shapes-shuffle/vq/model.safetensors" ||
  { echo "shapes-shuffle lacks its Token-Shuffle tensors or its VQ"; exit 1; }
grep -q "^tessera-cli train-janus .*--layout token-shuffle --window 2" "$work/models/shapes-shuffle/MODEL.md"
grep -q "^- test: found rate [0-9.]*, all found [0-9.]*, objects asked [1-9]" "$work/models/shapes-shuffle/MODEL.md" ||
  { cat "$work/models/shapes-shuffle/MODEL.md"; echo "no found rate in the shapes-shuffle card"; exit 1; }
grep -q "^tessera-cli train-janus .*--steps 3" "$work/models/shapes-janus/MODEL.md"
grep -q "^- test: found rate [0-9.]*, all found [0-9.]*, objects asked [1-9]" "$work/models/shapes-janus/MODEL.md" ||
  { cat "$work/models/shapes-janus/MODEL.md"; echo "no found rate in the card"; exit 1; }
grep -q "^- ood: count [0-9.]*, colour" "$work/models/shapes-igllm/MODEL.md"
# The IG-LLM trains on its own, larger folder of the same world; its card says so.
grep -q "^- Data: the Shapes world (docs/WORLD.md), 32 \`train\` scenes" "$work/models/shapes-igllm/MODEL.md"
grep -q "^tessera-cli train-igllm --train world/train-igllm " "$work/models/shapes-igllm/MODEL.md"
grep -q "^- Data: the Shapes world (docs/WORLD.md), 24 \`train\` scenes" "$work/models/shapes-janus/MODEL.md"
grep -q "^- test: PSNR dB [0-9.]*" "$work/models/shapes-vq/MODEL.md"
jq -e '.splits.test.scenes == 2 and .splits.ood.scenes == 2' "$work/demo/eval-igllm.json" > /dev/null
# A bad option is refused.
if bash "$root/tools/train-demo.sh" "$cli" "$work/x" --fast 2> "$work/err.txt"; then
  echo "train-demo accepted --fast"; exit 1
fi
grep -q "unknown option '--fast'" "$work/err.txt"

# The headless default job with the built-in models pointed at the quick ones.
TESSERA_MODELS_DIR="$work/models" "$cli" default-job --out-dir "$work/out" --seed 3 > "$work/job.txt" 2>&1 ||
  { cat "$work/job.txt"; echo "default-job failed"; exit 1; }
for f in tessera-default.png tessera-default.scene tessera-default-render.png tessera-default-compare.png; do
  test -s "$work/out/$f" || { cat "$work/job.txt"; echo "default-job did not write $f"; exit 1; }
done
grep -q "model: $work/models/shapes-janus" "$work/job.txt"
# Without the IG-LLM model the job still draws, and says why it did not reconstruct.
rm -r "$work/models/shapes-igllm" "$work/out"
TESSERA_MODELS_DIR="$work/models" "$cli" default-job --out-dir "$work/out" > "$work/job2.txt" 2>&1
test -s "$work/out/tessera-default.png" && test ! -e "$work/out/tessera-default.scene"
grep -q "no IG-LLM model" "$work/job2.txt"
# A broken IG-LLM folder is an error that names it, after the image is written.
mkdir -p "$work/broken" && echo "{" > "$work/broken/config.json"
if TESSERA_MODELS_DIR="$work/models" "$cli" default-job --out-dir "$work/out3" --igllm "$work/broken" \
     > "$work/job3.txt" 2>&1; then
  echo "default-job accepted a broken IG-LLM folder"; exit 1
fi
grep -q "reconstruction: .*broken" "$work/job3.txt" && test -s "$work/out3/tessera-default.png"
echo "train-demo --quick and the headless default job: OK"
