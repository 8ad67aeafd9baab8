#!/usr/bin/env bash
# One run on an accelerator machine (an H100 or H200): configure and build with CUDA, run the `gpu`
# tests, the Janus benchmark for Janus-Pro-1B and -7B shapes at 1 and 16 images (bf16 random weights and
# KV cache, as the eager baseline runs; backend cuda), and the transformers eager baseline (tools/janus_eager_baseline.py) for the same
# presets at 1 image; plain decoding against speculative Jacobi decoding and LANTERN (`bench sjd`,
# docs/SPECULATIVE.md) on the built-in resources/models/shapes-janus and on Janus-Pro-1B random
# weights; then print one JSON line with the figures and their ratios. Meant to finish in under 10
# minutes (build ~2, tests ~1, benchmarks and baselines ~5).
#
# Needs: the build dependencies of ./tessera, the CUDA toolkit at /usr/local/cuda, python3 with torch
# and transformers (for the baseline only; without them the baseline figures are null).
# Environment: OUT (logs go there; default build-device/device-check), TESSERA_DEVICE_BUILD (build folder,
# default ./build-device), TESSERA_DEVICE_CKPT (scratch for the random checkpoints, default /tmp).
# Exit status: 0 when the build, every gpu test and every benchmark ran; 1 otherwise (the JSON says what).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${TESSERA_DEVICE_BUILD:-$root/build-device}
out=${OUT:-$build/device-check}
ckpt=${TESSERA_DEVICE_CKPT:-/tmp/tessera-device-ckpt}
mkdir -p "$out" "$ckpt"
start=$(date +%s)
stamp() { echo "[$(($(date +%s) - start))s] $*" >&2; }
status=0

stamp "configure"
if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=ON \
        -DTESSERA_BUILD_GUI=OFF >"$out/configure.log" 2>&1; then
    tail -30 "$out/configure.log" >&2
    echo '{"check":"device","error":"configure failed"}'
    exit 1
fi
stamp "build"
if ! cmake --build "$build" -j16 --target tessera-cli engine_backend_parity_test kernels_rms_norm_gpu_test \
        >"$out/build.log" 2>&1; then
    grep -m 20 -A 8 "error" "$out/build.log" >&2
    echo '{"check":"device","error":"build failed"}'
    exit 1
fi
build_s=$(($(date +%s) - start))

stamp "ctest -L gpu"
ctest --test-dir "$build" -L gpu --output-on-failure --timeout 300 >"$out/ctest_gpu.log" 2>&1
gpu_rc=$?
tail -12 "$out/ctest_gpu.log" >&2
[ "$gpu_rc" -eq 0 ] || status=1

cli="$build/bin/tessera-cli"
for preset in janus-pro-1b janus-pro-7b; do
    for images in 1 16; do
        stamp "bench janus $preset, $images image(s)"
        if ! timeout 300 "$cli" bench janus --preset "$preset" --images "$images" --backend cuda --dtype bf16 \
                --kv-dtype bf16 --no-sampling --keep "$ckpt/$preset" >"$out/bench_${preset}_${images}.json" \
                2>"$out/bench_${preset}_${images}.err"; then
            tail -5 "$out/bench_${preset}_${images}.err" >&2
            status=1
        fi
    done
    rm -rf "${ckpt:?}/$preset" # the 7B checkpoint needs the disk
    stamp "eager baseline $preset"
    if ! timeout 300 python3 "$root/tools/janus_eager_baseline.py" --preset "$preset" --images 1 \
            >"$out/eager_${preset}.json" 2>"$out/eager_${preset}.err"; then
        tail -5 "$out/eager_${preset}.err" >&2
    fi
done
# Speculative decoding on the GPU: the trained Shapes model (its drafts pass, so steps fall by about
# 2x) and Janus-Pro-1B's shape (random weights accept few drafts; what it shows is a window forward's
# cost against one step's, the bandwidth-bound case the method needs).
shapes_prompt="a large red rubber cube left of a small blue metal sphere"
stamp "bench sjd shapes-janus"
if ! timeout 300 "$cli" bench sjd --model "$root/resources/models/shapes-janus" --prompt "$shapes_prompt" \
        --lantern-k 8 --runs 5 --backend cuda >"$out/sjd_shapes.json" 2>"$out/sjd_shapes.err"; then
    tail -5 "$out/sjd_shapes.err" >&2
    status=1
fi
stamp "bench sjd janus-pro-1b"
if ! timeout 300 "$cli" bench sjd --preset janus-pro-1b --runs 2 --backend cuda --scratch-dir "$ckpt" \
        >"$out/sjd_1b.json" 2>"$out/sjd_1b.err"; then
    tail -5 "$out/sjd_1b.err" >&2
    status=1
fi
stamp "done"

python3 - "$out" "$gpu_rc" "$build_s" "$(($(date +%s) - start))" "$status" <<'PY'
import json, subprocess, sys
out, gpu_rc, build_s, total_s, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def load(name):
    try:
        with open(f"{out}/{name}.json") as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except Exception:
        return None
def ratio(a, b):
    return round(a / b, 3) if a and b else None
try:
    device = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                            text=True).stdout.strip()
except Exception:
    device = None
report = {"check": "device", "device": device, "gpu_tests": "passed" if gpu_rc == 0 else f"failed (ctest {gpu_rc})",
          "build_s": build_s, "total_s": total_s}
for preset in ("janus-pro-1b", "janus-pro-7b"):
    one, many, eager = load(f"bench_{preset}_1"), load(f"bench_{preset}_16"), load(f"eager_{preset}")
    g = lambda r, k: r.get(k) if r else None
    report[preset] = {
        "ms_per_step_1": g(one, "ms_per_step"), "ms_per_step_16": g(many, "ms_per_step"),
        "seconds_per_image_1": g(one, "seconds_per_image"), "seconds_per_image_16": g(many, "seconds_per_image"),
        "floor_ms_per_step": g(one, "floor_ms_per_step"), "copy_gb_per_s": g(one, "copy_gb_per_s"),
        "fraction_of_floor_1": g(one, "fraction_of_floor"), "fraction_of_floor_16": g(many, "fraction_of_floor"),
        "step_time_16_vs_1": ratio(g(many, "ms_per_step"), g(one, "ms_per_step")),
        "eager_ms_per_step_1": g(eager, "ms_per_step"), "eager_floor_ms_per_step": g(eager, "floor_ms_per_step"),
        "speedup_vs_eager_1": ratio(g(eager, "ms_per_step"), g(one, "ms_per_step")),
        "tokens_identical_previews_on_off": g(one, "tokens_identical"),
    }
for key, name in (("sjd_shapes_janus", "sjd_shapes"), ("sjd_janus_pro_1b", "sjd_1b")):
    r = load(name)
    g = lambda part, k: (r.get(part) or {}).get(k) if r else None
    report[key] = {
        "steps_per_image": {s: g(s, "steps_per_image") for s in ("plain", "sjd", "lantern")},
        "ms_per_step": {s: g(s, "ms_per_step") for s in ("plain", "sjd", "lantern")},
        "decode_ms": {s: g(s, "decode_ms") for s in ("plain", "sjd", "lantern")},
        "steps_ratio": r.get("steps_ratio") if r else None, "decode_ratio": r.get("decode_ratio") if r else None,
        "wall_ratio": r.get("wall_ratio") if r else None,
        "lantern_steps_ratio": r.get("lantern_steps_ratio") if r else None,
        "lantern_decode_ratio": r.get("lantern_decode_ratio") if r else None,
    }
report["status"] = "ok" if status == 0 else "incomplete"
print(json.dumps(report))
PY
exit "$status"
