#!/bin/sh
# Every shipped reference set through whole models on the CUDA backend (`tessera-cli verify --backend
# cuda`, the same goldens and tolerances as on the CPU). Exit 77 (ctest: skipped) where this machine
# cannot run the CUDA backend, with doctor's reason.
# Usage: verify_reference_cuda.sh TESSERA_CLI REFERENCE_DIR...
cli="$1"
shift
report=$("$cli" doctor 2>&1)
if ! printf '%s\n' "$report" | grep -q "runs on: cuda"; then
    echo "skipped: the CUDA backend is not usable here:"
    printf '%s\n' "$report" | grep -i "cuda" | sed 's/^/  /'
    exit 77
fi
exec "$cli" verify "$@" --backend cuda
