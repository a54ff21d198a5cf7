# weir: two commands on a fresh Debian 12 machine.
#   make run    installs what is missing, builds Release, starts the server with a demo config
#   make test   installs what is missing, builds, runs every test (unit + integration)
#   make bench  builds Release and runs the benchmarks (figures printed, see docs/performance.md)
#   make fuzz   builds the libFuzzer targets with clang-14 + ASan/UBSan in build-fuzz and runs
#               each for FUZZ_SECONDS (FUZZ_TARGETS="cron uri" for some); see fuzz/README.md

SHELL := /bin/bash
BUILD_TYPE ?= Release
BUILD_DIR  ?= build
JOBS       ?= $(shell nproc)

# Debian 12 packages the build, the tests and the benchmarks need.
DEB_PACKAGES := cmake ninja-build ccache g++ pkg-config git \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
  libyaml-cpp-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libarchive-dev \
  libhowardhinnant-date-dev libspdlog-dev libfmt-dev libcli11-dev \
  libgtest-dev libgmock-dev libbenchmark-dev sqlite3 curl python3 procps awscli

.PHONY: all deps build run test bench clean s3-test-deps fuzz fuzz-deps

all: build

# Installs only the packages that are missing (dpkg-query is cheap; apt-get runs only if needed).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
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

test: build s3-test-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Benchmarks also need wrk and nginx (A1 compares weir with nginx in the same run).
BENCH_PACKAGES := wrk nginx-light

bench: build
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi
	./bench/run-all.sh $(BUILD_DIR)

# Fuzzing: a separate build dir with clang-14 (sanitizers and libFuzzer come with
# libclang-rt-14-dev); the normal build replays the same targets' corpora in `make test`.
FUZZ_PACKAGES  := clang-14 libclang-rt-14-dev
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   ?=

fuzz-deps: deps
	@missing=""; for p in $(FUZZ_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

$(FUZZ_BUILD_DIR)/build.ninja:
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEIR_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_COMPILER_LAUNCHER=ccache

fuzz: fuzz-deps $(FUZZ_BUILD_DIR)/build.ninja
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_all
	./fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR)
