#!/usr/bin/env bash
# Loop overhead in instructions, not seconds: callgrind counts what the CPU executes, the same on every run, where
# the wall-clock ratios of loop_overhead_bench move by several percent between identical runs on a shared machine.
# Each configuration of the tiny MLP runs for 1 and for 2 epochs (200 steps each); the difference is the cost of
# 200 steps, with start-up and the fit's fixed costs cancelled out. Prints instructions per step and volt / raw.
#   benchmarks/loop_instructions.sh [build dir]     (about 10 minutes: valgrind runs libtorch's start-up 8 times)
set -euo pipefail
build=${1:-build}
bench="$build/benchmarks/loop_overhead_bench"
command -v valgrind > /dev/null || { echo "loop_instructions: valgrind is not installed (apt install valgrind)"; exit 0; }
[ -x "$bench" ] || { echo "loop_instructions: $bench not built (cmake --build $build --target benchmarks)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/volt-instructions.XXXXXX")
trap 'rm -rf "$work"' EXIT
case "$bench" in /*) ;; *) bench="$PWD/$bench" ;; esac
count() {  # config epochs -> instructions executed (run in $work: the volt runs write checkpoints there)
  (cd "$work" && valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bench" --only="$1" --epochs="$2" \
     2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
}
steps=200  # bench::kSamples / bench::kBatch: one epoch
echo "instructions per training step, tiny MLP 784-128-10, batch 64 (callgrind, 1 thread)"
raw=""
for config in raw bare defaults busy; do
  one=$(count "$config" 1)
  two=$(count "$config" 2)
  per_step=$(( (two - one) / steps ))
  [ -z "$raw" ] && raw=$per_step
  awk -v c="$config" -v n="$per_step" -v r="$raw" \
    'BEGIN { printf "  %-9s %10d instructions/step   / raw %.4f   steps/s ratio if time follows %.3f\n", c, n, n / r, r / n }' 
done
