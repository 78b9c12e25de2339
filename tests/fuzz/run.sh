#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/CMakeLists.txt) against a main build and runs them.
#   run.sh build SOURCE_DIR BUILD_DIR              configure and build build/fuzz (ctest FuzzBuild)
#   run.sh run SOURCE_DIR BUILD_DIR TARGET SECONDS  run TARGET from its seed corpus fuzz/corpus/TARGET for SECONDS
# Exit 77 (ctest: skipped) when clang is not installed. A finding fails with the input's path and the report.
set -euo pipefail
mode=$1
src=$(cd "$2" && pwd) build=$(cd "$3" && pwd)
fuzz_build=$build/fuzz
if ! command -v clang++ > /dev/null; then
  echo "clang++ is not installed (apt install clang): the fuzz targets need libFuzzer"
  exit 77
fi
case $mode in
  build)
    cmake -S "$src/fuzz" -B "$fuzz_build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
      -DVOLT_LIBRARY="$build/libvolt.so" > "$fuzz_build.configure.log" 2>&1 || { cat "$fuzz_build.configure.log"; exit 1; }
    cmake --build "$fuzz_build"
    ;;
  run)
    target=$4 seconds=$5
    # New inputs go to a working corpus under the build tree; the committed seeds stay as they are.
    work=$fuzz_build/corpus-$target
    mkdir -p "$work" "$fuzz_build/findings"
    cd "$fuzz_build/findings"
    # Leaks inside libtorch and yaml-cpp are not volt's (see tests/sanitize/lsan.supp).
    export LSAN_OPTIONS=suppressions=$src/tests/sanitize/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=print_stacktrace=1
    "$fuzz_build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -print_final_stats=1 "$work" "$src/fuzz/corpus/$target"
    ;;
  *) echo "usage: run.sh build|run SOURCE_DIR BUILD_DIR [TARGET SECONDS]"; exit 2 ;;
esac
