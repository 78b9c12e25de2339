#!/usr/bin/env bash
# Installs volt from the build tree into a temporary prefix, builds a tiny outside project against it with
# find_package(volt), and runs both that program and the installed `volt` command.
#   tests/install/check.sh <build dir> <source dir>
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/volt-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/include/volt/volt.hpp"
test -f "$work/prefix/lib/cmake/volt/voltConfig.cmake"
test -d "$work/prefix/lib/volt/plugins"
test ! -e "$work/prefix/include/volt/detail/pch.hpp"

cmake -S "$source/tests/install/outside_project" -B "$work/app" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/app" > "$work/build.log" || { cat "$work/build.log"; exit 1; }

out=$(cd "$work" && "$work/app/outside_app")
echo "$out"
grep -q "outside_app: trained 2 epochs, global_step 6" <<< "$out"

# The installed command finds its library through its RPATH and lists the built-in names.
help=$("$work/prefix/bin/volt" --help)
grep -q "^registered callbacks: .*, EarlyStopping, " <<< "$help"
# and rejects a bad config with status 2 and the YAML path
printf 'trainer: {max_epochs: x}\nmodel: ImageClassifier\n' > "$work/bad.yaml"
set +e
"$work/prefix/bin/volt" fit --config "$work/bad.yaml" 2> "$work/err.txt"
status=$?
set -e
test "$status" -eq 2
grep -q "trainer.max_epochs: expected an integer, got 'x'" "$work/err.txt"
echo "installed package OK"
