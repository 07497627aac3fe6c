# The two commands of the README, `make run` and `make test`, and the benchmarks. Each target
# installs what it needs and nothing more (scripts/install-deps demo|test), configures, builds
# and runs. BUILD_DIR / ASAN_DIR pick the build trees.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
# Benchmarks: QUICK=1 for a short run, SMOKE=1 for the seconds-long form that `make test`
# runs, RESULTS=DIR to write the results somewhere else than bench/results/.
QUICK ?=
SMOKE ?=
RESULTS ?=

.PHONY: all deps deps-demo configure build build-asan build-tsan test test-release test-asan \
	test-tsan run bench bench-events bench-swarm bench-cores bench-knot bench-crossings format \
	format-check docs clean

all: build

deps:
	@scripts/install-deps test

deps-demo:
	@scripts/install-deps demo

# The full tree, tests and benchmarks included. A tree that `make run` configured for hekate
# alone is configured again, with everything.
configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ] \
	    || ! grep -qs '^CPC_BUILD_TESTS:BOOL=ON' $(BUILD_DIR)/CMakeCache.txt \
	    || ! grep -qs '^CPC_BUILD_BENCH:BOOL=ON' $(BUILD_DIR)/CMakeCache.txt; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCPC_BUILD_TESTS=ON \
	    -DCPC_BUILD_BENCH=ON $(CMAKE_FLAGS); \
	fi

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The sanitizer build uses clang, so every `make test` compiles with both compilers.
$(ASAN_DIR)/build.ninja: | deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DCPC_SANITIZE=ON -DCPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)

build-asan: $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

# ThreadSanitizer (clang): the runtime, httpd and hekate with their tests, since their loops
# share data. A tree configured without the applications (as before they ran on several loops)
# is configured again.
$(TSAN_DIR)/build.ninja: | deps
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DCPC_TSAN=ON -DCPC_BUILD_APPS=ON -DCPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)

build-tsan: $(TSAN_DIR)/build.ninja
	@! grep -qs '^CPC_BUILD_APPS:BOOL=OFF' $(TSAN_DIR)/CMakeCache.txt \
	  || cmake -S . -B $(TSAN_DIR) -DCPC_BUILD_APPS=ON
	cmake --build $(TSAN_DIR) -j $(JOBS)

test-release: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-asan: build-asan
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

test-tsan: build-tsan
	ctest --test-dir $(TSAN_DIR) --output-on-failure -j $(JOBS)

test: test-release test-asan test-tsan

# hekate seeding sample content with its built-in tracker; it prints the aria2c command. Only
# what the demo needs is installed and built; a tree configured by `make test` is reused.
run: deps-demo
	@[ -f $(BUILD_DIR)/build.ninja ] || cmake -S . -B $(BUILD_DIR) -G Ninja \
	  -DCMAKE_BUILD_TYPE=Release -DCPC_BUILD_TESTS=OFF -DCPC_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target hekate
	scripts/hekate-demo $(BUILD_DIR)

# cpc against NPTL, State Threads, GNU Pth and Boost.Context (SMOKE=1 is the quick run).
bench: build
	$(BUILD_DIR)/bench/threads $(if $(QUICK)$(SMOKE),--quick) \
	  $(if $(RESULTS),--out $(RESULTS)/threads$(if $(QUICK)$(SMOKE),-quick).csv)

# "Are events fast?" against nginx, lighttpd, Apache, h2o, mini-httpd and the toys (as root:
# it installs the servers, raises somaxconn and caps the server's CPU with a cgroup).
# SMOKE=1: one load, the project's own servers only, no root needed.
bench-events: build
	bench/are-events-fast/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick) \
	  $(if $(SMOKE),--smoke) $(if $(RESULTS),--results $(RESULTS))

# The Hekate paper's stress test scaled up: hekate, Transmission and libtorrent against a swarm
# of 100 to 15,000 simulated leechers (as root: it raises somaxconn). QUICK=1: 100 and 1,000.
# SMOKE=1: 50 leechers for 5 s, hekate only, no root needed.
bench-swarm: build
	bench/swarm/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick) \
	  $(if $(SMOKE),--smoke) $(if $(RESULTS),--results-dir $(RESULTS))

# The libasync-mp experiment: an SFS-like compute-heavy server on 1 and 2 cores, cpc against
# N-copy, Boost.Asio and Go (as root: it installs golang-go and accounts the servers' CPU
# with a cgroup). QUICK=1: 2 rounds of 5 s. SMOKE=1: cpc and N-copy for seconds, no root.
bench-cores: build
	bench/many-cores/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick) \
	  $(if $(SMOKE),--smoke) $(if $(RESULTS),--results-dir $(RESULTS))

# Knot's Figure 3 ("Why Events Are a Bad Idea"): bandwidth against 1 to 16,384 keep-alive clients on a SPECweb99-like
# file set, httpd (both policies, epoll and io_uring) against nginx, lighttpd and h2o (as root:
# it raises somaxconn, accounts the server's CPU with a cgroup and installs the servers).
# QUICK=1: 5 client counts, 2 rounds. SMOKE=1: httpd at 1 and 64 clients for seconds, no root.
bench-knot: build
	bench/knot-bandwidth/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick) \
	  $(if $(SMOKE),--smoke) $(if $(RESULTS),--results-dir $(RESULTS))

# Kernel crossings per request: system calls by name (perf's syscall tracepoints) and user and
# system CPU per request of httpd, toy-cpc and hekate on each backend, toy-st, nginx and
# lighttpd (as root: it installs nginx and lighttpd, and perf reads tracepoints). QUICK=1: 2
# rounds of fewer requests. SMOKE=1: httpd and toy-cpc on epoll, seconds, no root.
bench-crossings: build
	bench/crossings/run --build-dir $(BUILD_DIR) $(if $(QUICK),--quick) \
	  $(if $(SMOKE),--smoke) $(if $(RESULTS),--results-dir $(RESULTS))

# The Debian packages libcpc-dev, hekate and cpc-httpd (CPack), into $(BUILD_DIR).
.PHONY: package
package: build
	cmake --build $(BUILD_DIR) --target package

# Every libFuzzer target of the sanitizer tree for FUZZ_SECONDS each (10 minutes), one after
# the other (about 90 minutes): executions, executions per second, coverage and corpus growth
# per target in bench/results/fuzz.csv (RESULTS=DIR: DIR/fuzz.csv). Only the fuzzers are built.
FUZZ_SECONDS ?= 600
.PHONY: fuzz-long
fuzz-long: $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS) --target fuzzers
	bench/fuzz/run --build-dir $(ASAN_DIR) --seconds $(FUZZ_SECONDS) \
	  $(if $(RESULTS),--results-dir $(RESULTS))

# The repository's .clang-format on every C++ file: `format` rewrites them, `format-check`
# (run by CI before `make test`) fails on the first file that differs.
format:
	clang-format -i $$(git ls-files '*.hpp' '*.cpp')

format-check: deps
	clang-format --dry-run --Werror $$(git ls-files '*.hpp' '*.cpp')

# The API reference: HTML from the headers of include/cpc/ (not detail/) with Doxygen, into
# $(BUILD_DIR)/docs/html. An undocumented public name or a broken doc comment fails it
# (docs/api/Doxyfile); CI runs it after format-check.
CPC_VERSION := $(shell sed -n 's/^project.cpc VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
docs: deps
	@mkdir -p $(BUILD_DIR)/docs
	CPC_DOCS_OUT=$(BUILD_DIR)/docs CPC_VERSION=$(CPC_VERSION) doxygen docs/api/Doxyfile
	@echo "API reference: $(BUILD_DIR)/docs/html/index.html"

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
