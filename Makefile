# volt: the two commands users need are `make run` and `make test`; both install what is missing first.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: deps configure build run test bench install clean

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
