#!/usr/bin/env bash
# Installs what volt needs from Debian's archive, only what is missing (idempotent, non-interactive).
# OpenBLAS matters: without it libtorch resolves libblas.so.3 to the reference BLAS and runs ~13x slower.
set -euo pipefail
PACKAGES=(
  g++ make cmake ninja-build
  libtorch-dev libopenblas0-openmp
  libgloo-dev              # headers of the Gloo transport behind c10d's ProcessGroupGloo (DDP)
  libgtest-dev
  libbenchmark-dev         # the Google Benchmark benchmarks (make bench)
  clang libclang-rt-14-dev # libFuzzer and the sanitizer runtimes for the fuzz targets (fuzz/, make fuzz)
  zlib1g-dev               # reads the gzip'd IDX files of the datasets
  libyaml-cpp-dev libfmt-dev nlohmann-json3-dev
  python3-torch            # tests prove that Python's torch.load reads volt checkpoints
  dataset-fashion-mnist    # the main job's data
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
