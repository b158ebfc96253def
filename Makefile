# Sluice: the two commands a newcomer types are `make demo` and `make test`.
# Everything else here is for developers: test-asan, lint, bench, install, clean.

BUILD_DIR  ?= build
ASAN_DIR   ?= build-asan
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CMAKE_ARGS ?=

# ccache hits for every clone, wherever it lives.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true
LAUNCHER := $(shell command -v ccache >/dev/null 2>&1 && echo "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache")

.PHONY: all deps configure build test demo test-asan lint format bench install clean help

all: build

help:
	@echo "make demo       build and run the demo on the embedded log"
	@echo "make test       build and run the whole test suite (ctest)"
	@echo "make test-asan  the test suite under AddressSanitizer + UBSan"
	@echo "make lint       clang-format check and clang-16 thread-safety analysis"
	@echo "make bench      all benchmarks; results in $(BUILD_DIR)/bench-results/"
	@echo "make install    headers, libraries and CMake package into PREFIX=$(PREFIX)"

deps:
	@scripts/install-deps.sh

# Configured once; later builds re-run CMake by themselves when a CMakeLists.txt changes.
configure: deps
	@test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) $(GENERATOR) $(LAUNCHER) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

demo: build
	$(BUILD_DIR)/samples/sluice-demo

test-asan: deps
	cmake -S . -B $(ASAN_DIR) $(GENERATOR) $(LAUNCHER) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan-suppressions.txt \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

lint: configure
	scripts/lint.sh $(BUILD_DIR)

format:
	git ls-files '*.h' '*.cc' | xargs clang-format-14 -i

bench: build
	scripts/run-benchmarks.sh $(BUILD_DIR)

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
