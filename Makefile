# The two commands of the README: `make run` and `make test`. Both install what is missing,
# configure, build and run. BUILD_DIR / ASAN_DIR pick the build trees.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan build-tsan test test-release test-asan test-tsan run bench bench-events bench-swarm format clean

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The sanitizer build uses clang, so every `make test` compiles with both compilers.
$(ASAN_DIR)/build.ninja: | deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DCPC_SANITIZE=ON -DCPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)

build-asan: $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

# ThreadSanitizer (clang): the runtime and its tests only, where the loops of a cpc::runtime race.
$(TSAN_DIR)/build.ninja: | deps
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DCPC_TSAN=ON -DCPC_BUILD_APPS=OFF -DCPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)

build-tsan: $(TSAN_DIR)/build.ninja
	cmake --build $(TSAN_DIR) -j $(JOBS)

test-release: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-asan: build-asan
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

test-tsan: build-tsan
	ctest --test-dir $(TSAN_DIR) --output-on-failure -j $(JOBS)

test: test-release test-asan test-tsan

# hekate seeding sample content with its built-in tracker; it prints the aria2c command.
run: build
	scripts/hekate-demo $(BUILD_DIR)

bench: build
	$(BUILD_DIR)/bench/threads

# "Are events fast?" against nginx, lighttpd, Apache, h2o, mini-httpd and the toys (as root:
# it raises somaxconn and caps the server's CPU with a cgroup). QUICK=1 for a short sweep.
bench-events: build
	bench/are-events-fast/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick)

# The Hekate paper's stress test scaled up: hekate, Transmission and libtorrent against a swarm
# of 100 to 15,000 simulated leechers (as root: it raises somaxconn). QUICK=1: 100 and 1,000.
bench-swarm: build
	bench/swarm/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick)

format:
	clang-format -i $$(git ls-files '*.hpp' '*.cpp')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
