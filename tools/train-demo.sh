#!/usr/bin/env bash
# Trains Tessera's built-in Shapes models from nothing: renders the Shapes world, then trains
# shapes-igllm on one core while shapes-vq, then shapes-janus, then shapes-shuffle (Token-Shuffle, s = 2)
# train on the other, evaluates them with eval-shapes and writes each model's card. Called by `./tessera train-demo`; see docs/WORLD.md.
#
#   tools/train-demo.sh CLI OUT [--quick] [--install DIR]
#
# CLI is build/bin/tessera-cli, OUT the folder to write (world/, logs/, the four models, eval-*.json).
# --quick runs a handful of steps of each stage (the pipeline check tests/app/train_demo.sh runs); its
# models are useless. --install DIR copies the finished models into DIR (resources/models).
set -euo pipefail

cli="$1"
out="$2"
shift 2
quick=0
install=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --install) install="${2:?--install needs a folder}"; shift ;;
    *) echo "train-demo: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

# The recipe. Step counts fit 60 minutes on two cores (one per chain); --quick shrinks everything.
# The IG-LLM reads its own, larger training folder (the first train_count scenes are the same scenes):
# rendering is cheap, and it sees each scene only about four times. The VQ and the generators keep the
# smaller one, whose codes must be computed once per image.
train_count=4000 igllm_train_count=16000 val_count=100 eval_count=500 gen_count=200
vq_steps=1400 janus_steps=2400 igllm_steps=4000 warmup=100 batch=16
janus_size=()
# Most of the IG-LLM's depth and width in the vision tower: a 2-layer LM after a 4-layer tower learns as
# fast per step as 4 + 2 and takes about a third less time a step; a 192-wide tower learns faster per step
# than 128 and keeps the folders within 25 MB. Position cells: each ground coordinate's half-unit cell is
# a word, and both come right after `object` (--cells-first): the model says where the next object is
# before what it is. No gradient clipping for it: clipped at 1.0 (its gradient norm is 5-60), the
# model did not learn where objects are (docs/WORLD.md).
igllm_size=(--layers 2 --vision-layers 4 --vision-hidden 192 --position-cells --cells-first)
if [ $quick -eq 1 ]; then
  train_count=24 igllm_train_count=32 val_count=4 eval_count=2 gen_count=2
  vq_steps=3 janus_steps=3 igllm_steps=3 warmup=1 batch=2
  janus_size=(--layers 1 --hidden 64 --heads 2)
  igllm_size=(--layers 1 --hidden 64 --vision-layers 1 --vision-hidden 32 --position-cells --cells-first)
fi
schedule=(--warmup "$warmup" --schedule cosine)
clip=(--clip 1.0) # all but the IG-LLM
vq_args=(--steps "$vq_steps" --batch 8 --lr 1e-3 "${schedule[@]}" "${clip[@]}" --codebook 512 --code-dim 16 --dtype f16)
janus_args=(--steps "$janus_steps" --batch "$batch" --lr 3e-4 "${schedule[@]}" "${clip[@]}" "${janus_size[@]}")
shuffle_args=("${janus_args[@]}" --layout token-shuffle --window 2)
igllm_args=(--steps "$igllm_steps" --batch "$batch" --lr 3e-4 "${schedule[@]}" "${igllm_size[@]}")

say() { printf '\033[1m[train-demo]\033[0m %s\n' "$*" >&2; }
mkdir -p "$out/logs"
logs="$out/logs"
start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%d:%02d' $((s / 60)) $((s % 60)); }

say "rendering the Shapes world: $igllm_train_count train (the first $train_count for the VQ and the generators) and $val_count val scenes"
rm -rf "$out/world"
"$cli" world --out "$out/world/train" --count "$train_count" --split train >"$logs/world.log"
# The IG-LLM's folder holds the same first scenes (hard links, not rendered twice) and the rest of its count.
"$cli" world --out "$out/world/train-igllm" --count $((igllm_train_count - train_count)) --seed "$train_count" \
  --split train >>"$logs/world.log"
cp -l -- "$out/world/train"/train-* "$out/world/train-igllm/"
cat "$out/world/train/index.jsonl" "$out/world/train-igllm/index.jsonl" >"$out/world/train-igllm/index.all"
mv "$out/world/train-igllm/index.all" "$out/world/train-igllm/index.jsonl"
"$cli" world --out "$out/world/val" --count "$val_count" --split val >>"$logs/world.log"

# One BLAS thread per chain: the two chains share the two cores.
export OPENBLAS_NUM_THREADS=1
rm -rf "$out/shapes-vq" "$out/shapes-janus" "$out/shapes-shuffle" "$out/shapes-igllm" "$out"/*.ckpt "$out"/*.codes.json
common=(--train "$out/world/train" --val "$out/world/val")
( "$cli" train-igllm --train "$out/world/train-igllm" --val "$out/world/val" --out "$out/shapes-igllm" "${igllm_args[@]}" \
    --checkpoint "$out/igllm.ckpt" --checkpoint-every 100 >"$logs/igllm.log" 2>"$logs/igllm.err" ) &
igllm_pid=$!
( "$cli" train-vq "${common[@]}" --out "$out/shapes-vq" "${vq_args[@]}" \
    --checkpoint "$out/vq.ckpt" --samples "$out/vq-samples.png" >"$logs/vq.log" 2>"$logs/vq.err" &&
  "$cli" train-janus "${common[@]}" --vq "$out/shapes-vq" --out "$out/shapes-janus" "${janus_args[@]}" \
    --checkpoint "$out/janus.ckpt" --checkpoint-every 100 >"$logs/janus.log" 2>"$logs/janus.err" &&
  "$cli" train-janus "${common[@]}" --vq "$out/shapes-vq" --out "$out/shapes-shuffle" "${shuffle_args[@]}" \
    --codes "$out/janus.ckpt.codes.json" --checkpoint "$out/shuffle.ckpt" --checkpoint-every 100 \
    >"$logs/shuffle.log" 2>"$logs/shuffle.err" ) &
chain_pid=$!
# Interrupted: stop both chains (a resumed run starts over; the checkpoints stay for a manual resume).
trap 'trap - INT TERM; kill 0' INT TERM

# Progress: the newest step line of each log, every 30 seconds, until both chains end.
progress() {
  local f="$logs/$1.log" line
  [ -s "$f" ] || { printf '%s -' "$1"; return; }
  line=$(grep '"step"' "$f" | tail -n 1 || true)
  [ -n "$line" ] || { printf '%s -' "$1"; return; }
  printf '%s %s/%s loss %.4f' "$1" "$(jq -r .step <<<"$line")" "$(jq -r .total <<<"$line")" \
    "$(jq -r .loss <<<"$line")"
}
while kill -0 "$igllm_pid" 2>/dev/null || kill -0 "$chain_pid" 2>/dev/null; do
  say "$(elapsed)  $(progress igllm)  |  $(progress vq)  |  $(progress janus)  |  $(progress shuffle)"
  for _ in $(seq 30); do
    kill -0 "$igllm_pid" 2>/dev/null || kill -0 "$chain_pid" 2>/dev/null || break
    sleep 1
  done
done
status=0
wait "$igllm_pid" || { say "train-igllm failed: $(tail -n 3 "$logs/igllm.err")"; status=1; }
wait "$chain_pid" || { say "train-vq or train-janus failed: $(tail -n 3 "$logs"/vq.err "$logs"/janus.err "$logs"/shuffle.err 2>/dev/null)"; status=1; }
[ $status -eq 0 ] || exit 1
unset OPENBLAS_NUM_THREADS

say "$(elapsed)  evaluating (eval-shapes): $eval_count test and ood renders, $gen_count captions"
evaluate() {
  local name="$1"
  shift
  "$cli" eval-shapes "$@" --threads 2 >"$out/eval-$name.json" 2>>"$logs/eval.err" ||
    { say "eval-shapes ($name) failed: $(tail -n 3 "$logs/eval.err")"; exit 1; }
}
evaluate igllm --igllm "$out/shapes-igllm" --count "$eval_count"
evaluate vq --igllm "$out/shapes-igllm" --vq "$out/shapes-vq" --count "$gen_count"
evaluate janus --generator "$out/shapes-janus" --igllm "$out/shapes-igllm" --count "$gen_count"
evaluate shuffle --generator "$out/shapes-shuffle" --igllm "$out/shapes-igllm" --count "$gen_count"

# Per split, the named fields of an eval-shapes JSON as "- split: label value, ...".
splits() {
  local file="$1" fields="$2"
  jq -r --arg fields "$fields" '.splits | to_entries[] | .value as $v | "- \(.key): " +
    ($fields | split(",") | map(split("=") | "\(.[0]) \($v[.[1]] * 1000 | round / 1000)") | join(", "))' "$file"
}
# A model card per folder: what it is, the data, the command and the figures.
card() {
  local name="$1" what="$2" command="$3" figures="$4" target="$5" scenes="${6:-$train_count}"
  {
    echo "# $name"
    echo
    echo "$what"
    echo
    echo "- Data: the Shapes world (docs/WORLD.md), $scenes \`train\` scenes at 64×64 and $val_count \`val\` scenes."
    echo "- Parameters: $(jq -r .parameters "$out/$name/metrics.json"); the folder is $(du -sh "$out/$name" | cut -f1)."
    echo "- Trained by \`./tessera train-demo\` (tools/train-demo.sh); the whole run took $(elapsed) here. This model:"
    echo
    echo '```'
    echo "tessera-cli $command"
    echo '```'
    echo
    echo "## Figures (tessera-cli eval-shapes)"
    echo
    echo "$figures"
    echo
    echo "$target"
    echo
    echo "Training summary (metrics.json):"
    echo
    echo '```json'
    jq -c 'del(.out)' "$out/$name/metrics.json"
    echo '```'
  } >"$out/$name/MODEL.md"
}
card shapes-vq "An image tokenizer in the Janus VQ layout (encoder, codebook, decoder), f = 8: a 64×64 image is 64 codes." \
  "train-vq --train world/train --val world/val --out shapes-vq ${vq_args[*]}" \
  "Validation PSNR $(jq -r '.val_psnr_db * 100 | round / 100' "$out/shapes-vq/metrics.json") dB. What shapes-igllm still reads after the round trip (\`eval-shapes --igllm shapes-igllm --vq shapes-vq --count $gen_count\`):

$(splits "$out/eval-vq.json" "PSNR dB=vq_psnr_db,count=count_accuracy,colour=color_accuracy,shape=shape_accuracy")" \
  "Target (docs/WORLD.md): no number of its own; shapes-janus can show only what survives this round trip."
card shapes-janus "Text→image in the Janus-Pro layout over shapes-vq's codes (the VQ is inside, as model.vqmodel.*)." \
  "train-janus --train world/train --val world/val --vq shapes-vq --out shapes-janus ${janus_args[*]}" \
  "Each of $gen_count \`test\` captions drawn, then read back by shapes-igllm; an object asked for is found when the reading holds one of its colour and shape (\`eval-shapes --generator shapes-janus --igllm shapes-igllm --count $gen_count\`):

$(splits "$out/eval-janus.json" "found rate=found_rate,all found=all_found_rate,objects asked=objects_asked")" \
  "Target (docs/WORLD.md): found rate ≥ 0.8 on 200 captions."
card shapes-shuffle "Text→image in the Token-Shuffle layout (s = 2: one LM position per 2×2 window of codes, 16 an image) over shapes-vq's codes (the VQ is in vq/)." \
  "train-janus --train world/train --val world/val --vq shapes-vq --out shapes-shuffle ${shuffle_args[*]}" \
  "Each of $gen_count \`test\` captions drawn (half-linear guidance schedule), then read back by shapes-igllm, as for shapes-janus (\`eval-shapes --generator shapes-shuffle --igllm shapes-igllm --count $gen_count\`):

$(splits "$out/eval-shuffle.json" "found rate=found_rate,all found=all_found_rate,objects asked=objects_asked")" \
  "Target (docs/WORLD.md): found rate ≥ 0.8 on 200 captions."
card shapes-igllm "Image → scene program in the LLaVA layout with IG-LLM's numeric head. Each statement starts with the object's position cells, the half-unit cells of its ground coordinates (\`object x5 y1 cube …\`; \`x0\` … \`x11\`, \`y0\` … \`y11\`), so the model says where an object is before what it is; the program text leaves the cells out (docs/RECONSTRUCT.md)." \
  "train-igllm --train world/train-igllm --val world/val --out shapes-igllm ${igllm_args[*]}" \
  "On clean renders (\`eval-shapes --igllm shapes-igllm --count $eval_count\`; position error in % of the ground's extent):

$(splits "$out/eval-igllm.json" "count=count_accuracy,colour=color_accuracy,shape=shape_accuracy,material=material_accuracy,size=size_accuracy,position error=position_error_pct_of_extent")" \
  "Targets (docs/WORLD.md): count ≥ 0.95, colour and shape ≥ 0.9, position error ≤ 10% of the extent, on both splits." \
  "$igllm_train_count"

if [ -n "$install" ]; then
  mkdir -p "$install"
  for m in shapes-vq shapes-janus shapes-shuffle shapes-igllm; do
    rm -rf "${install:?}/$m"
    cp -r "$out/$m" "$install/$m"
    # The summary's "out" is this machine's path: not part of the model.
    jq 'del(.out)' "$out/$m/metrics.json" >"$install/$m/metrics.json"
  done
  say "installed the models in $install"
fi
say "done in $(elapsed): $out/shapes-vq, $out/shapes-janus, $out/shapes-shuffle, $out/shapes-igllm (cards: MODEL.md; figures: eval-*.json)"
