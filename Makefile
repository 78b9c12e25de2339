# volt: the two commands users need are `make run` and `make test`; both install what is missing first.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: deps configure build run test test-sanitize fuzz bench install clean

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The main job: Fashion-MNIST through the `volt` command, then the last checkpoint on the test set.
MAIN_CONFIG ?= examples/fashion_mnist/config.yaml
run: build
	$(BUILD)/bin/volt fit --config $(MAIN_CONFIG)
	$(BUILD)/bin/volt test --config $(MAIN_CONFIG) --ckpt_path=last

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite built with AddressSanitizer and UndefinedBehaviorSanitizer (any UB fails), in its own build tree.
# libtorch itself is not instrumented; tests/sanitize/lsan.supp lists the libraries whose leaks are not volt's.
# (-Wno-maybe-uninitialized: GCC 12 gives false positives inside std::regex and std::function under -fsanitize.)
# Left out: the fuzz targets (clang builds them with its own sanitizers, whose runtime cannot share a process with
# GCC's) and InstalledPackage (it builds an outside project without the sanitizer flags against libvolt).
SANITIZE_BUILD ?= build-sanitize
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
test-sanitize: deps
	cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
	  -DCMAKE_CXX_FLAGS="$(SANITIZE_FLAGS) -Wno-maybe-uninitialized" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE_FLAGS)" \
	  -DCMAKE_SHARED_LINKER_FLAGS="$(SANITIZE_FLAGS)" -DCMAKE_MODULE_LINKER_FLAGS="$(SANITIZE_FLAGS)"
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && \
	  ASAN_OPTIONS=detect_leaks=1:strict_init_order=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitize/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -E '^(FuzzBuild|Fuzz[.].*|InstalledPackage)$$'

# The fuzz targets (fuzz/: the checkpoint reader and the YAML config loader) for FUZZ_SECONDS each; the test suite
# runs them for 15 s. New inputs collect in $(BUILD)/fuzz/corpus-<target>, findings in $(BUILD)/fuzz/findings.
FUZZ_SECONDS ?= 300
fuzz: build
	bash tests/fuzz/run.sh build . $(BUILD)
	for t in checkpoint_fuzzer config_fuzzer; do bash tests/fuzz/run.sh run . $(BUILD) $$t $(FUZZ_SECONDS) || exit 1; done

# vs_lightning_bench compares with Python Lightning 2.2.5 (pip, in a venv over Debian's python3-torch)
bench: build
	cmake --build $(BUILD) -j $(JOBS) --target benchmarks
	@export VOLT_LIGHTNING_PYTHON=$$(bash scripts/lightning-venv.sh); \
	for b in $(BUILD)/benchmarks/*_bench; do echo "== $$b"; $$b || exit 1; done

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
