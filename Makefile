# weir: two commands on a fresh Debian 12 machine.
#   make run    installs what is missing, builds Release, starts the server with a demo config
#               (and prints the web UI's address, http://127.0.0.1:8080/ui/)
#   make test   installs what is missing, builds, runs every test (unit + integration)
#   make bench  builds Release and runs the benchmarks (figures printed, see docs/performance.md)
#   make fuzz   builds the libFuzzer targets with clang-14 + ASan/UBSan in build-fuzz and runs
#               each for FUZZ_SECONDS (FUZZ_TARGETS="cron uri" for some); see fuzz/README.md
#   make test-asan  the whole test suite built with ASan + UBSan (build-asan/); any report fails
#   make test-tsan  the threaded modules' tests built with TSan (build-tsan/); any report fails
#   make mutate     plants each bug of tests/mutations.toml in turn; fails if a test misses one

SHELL := /bin/bash
BUILD_TYPE ?= Release
BUILD_DIR  ?= build
JOBS       ?= $(shell nproc)

# Debian 12 packages the build, the tests and the benchmarks need (slurm-wlm and munge: the Slurm
# executor's tests start a private single-node Slurm, see src/exec/testing/slurm_cluster.h).
DEB_PACKAGES := cmake ninja-build ccache g++ pkg-config git \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
  libyaml-cpp-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libarchive-dev \
  libhowardhinnant-date-dev libspdlog-dev libfmt-dev libcli11-dev \
  libgtest-dev libgmock-dev libbenchmark-dev sqlite3 curl openssl python3 procps awscli \
  python3-botocore libpq-dev postgresql slurm-wlm munge

# The web UI (web/) is built by the normal build with Node.js and npm (npm ci, vite build) and
# embedded into the binary; its browser tests drive Debian's Chromium (never a downloaded one).
# Node.js and npm are installed only when missing (a machine may have a newer Node.js already).
UI_TEST_PACKAGES := chromium

.PHONY: all deps san-deps build run test bench clean s3-test-deps metrics-test-deps openapi-test-deps build-asan test-asan mutate \
  ui-test-deps \
  build-tsan test-tsan fuzz fuzz-deps

all: build

# $(call install-missing,PACKAGES): installs only the packages that are missing (dpkg-query is
# cheap; apt-get runs only if needed).
define install-missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install-missing,$(DEB_PACKAGES))
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./scripts/run-demo.sh $(BUILD_DIR)/weir

# The storage tests start s3rver (npm, pinned in tests/s3/package-lock.json) on loopback.
s3-test-deps:
	@if [ ! -d tests/s3/node_modules ]; then \
	  if ! command -v npm >/dev/null; then \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; \
	  fi; \
	  npm ci --prefix tests/s3 --no-audit --no-fund; \
	fi

# The metrics tests run promtool and a real Prometheus (Debian's 2.42) on loopback.
METRICS_TEST_PACKAGES := prometheus

metrics-test-deps:
	$(call install-missing,$(METRICS_TEST_PACKAGES))

# The API document's test validates it with @seriousme/openapi-schema-validator (npm, pinned in
# tests/openapi/package-lock.json).
openapi-test-deps:
	@if [ ! -d tests/openapi/node_modules ]; then \
	  if ! command -v npm >/dev/null; then \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; \
	  fi; \
	  npm ci --prefix tests/openapi --no-audit --no-fund; \
	fi

ui-test-deps:
	$(call install-missing,$(UI_TEST_PACKAGES))

test: build s3-test-deps metrics-test-deps openapi-test-deps ui-test-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Benchmarks also need wrk and nginx (A1 compares weir with nginx in the same run).
BENCH_PACKAGES := wrk nginx-light

bench: build
	$(call install-missing,$(BENCH_PACKAGES) $(UI_TEST_PACKAGES))
	./bench/run-all.sh $(BUILD_DIR)

# Fuzzing: a separate build dir with clang-14 (sanitizers and libFuzzer come with
# libclang-rt-14-dev); the normal build replays the same targets' corpora in `make test`.
FUZZ_PACKAGES  := clang-14 libclang-rt-14-dev
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   ?=

fuzz-deps: deps
	$(call install-missing,$(FUZZ_PACKAGES))

$(FUZZ_BUILD_DIR)/build.ninja:
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEIR_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_COMPILER_LAUNCHER=ccache

fuzz: fuzz-deps $(FUZZ_BUILD_DIR)/build.ninja
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_all
	./fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Sanitizer builds (cmake/sanitizers.cmake): gcc's own runtimes (no clang needed), -O1 with debug
# information and assertions on, no benchmarks. The runtime options are compiled into the binaries
# (cmake/sanitizer_options.cc): any report makes the process, and so its test, fail.
SAN_PACKAGES := libasan8 liblsan0 libubsan1 libtsan2
SAN_CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DWEIR_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
# Tests get more time than in Release: ASan runs the code ~2-3x slower, TSan ~5-10x.
SAN_TEST_TIMEOUT := 1500

san-deps: deps
	$(call install-missing,$(SAN_PACKAGES))

build-asan/build.ninja:
	cmake -S . -B build-asan $(SAN_CMAKE_FLAGS) -DWEIR_SANITIZE=address

build-asan: san-deps build-asan/build.ninja
	cmake --build build-asan -j $(JOBS)

# The whole suite, unit and integration (the `weir` server the integration tests start is the
# instrumented one in build-asan/).
test-asan: build-asan s3-test-deps metrics-test-deps openapi-test-deps ui-test-deps
	cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout $(SAN_TEST_TIMEOUT)

build-tsan/build.ninja:
	cmake -S . -B build-tsan $(SAN_CMAKE_FLAGS) -DWEIR_SANITIZE=thread

# Only the test binaries labelled `tsan` (WEIR_TSAN_TESTS in CMakeLists.txt) are built and run:
# the modules with threads of their own (exec, service, scheduler, fetch cache, HTTP server).
build-tsan: san-deps build-tsan/build.ninja
	cmake --build build-tsan -j $(JOBS) --target weir_tsan_tests

test-tsan: build-tsan s3-test-deps metrics-test-deps openapi-test-deps
	cd build-tsan && ctest --output-on-failure -j $(JOBS) --timeout $(SAN_TEST_TIMEOUT) -L tsan

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz

# Mutation testing: plants each bug of tests/mutations.toml in turn, rebuilds only the test
# binaries built from the mutated file, runs them, and fails when any mutation survives.
# MUTATIONS="id1,id2" runs some. See docs/testing.md.
MUTATIONS ?=
mutate: build
	python3 scripts/mutate.py --build-dir $(BUILD_DIR) $(if $(MUTATIONS),--only $(MUTATIONS))
