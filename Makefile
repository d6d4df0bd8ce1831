# Thin front door to the CMake build: make, make demo, make test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2

.PHONY: all demo test test-asan test-tsan bench clean deps install fuzz torture

all: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

deps:
	@sh scripts/deps.sh

demo: all
	@sh scripts/demo.sh $(BUILD)

test: all
	@sh scripts/test_deps.sh
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The same suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSVIPC_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	@sh scripts/test_deps.sh
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS)

# The tests whose processes run threads, under ThreadSanitizer (fork from a
# multi-threaded process is beyond it: die_after_fork=0, and test_msg_threads
# leaves out its threads-after-fork phase there).
TSAN_BUILD ?= build-tsan
TSAN_TESTS = test_msg_threads test_sem_undo test_shm_nattch
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSVIPC_TSAN=ON
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS="die_after_fork=0 halt_on_error=1" \
		ctest --output-on-failure -j$(JOBS) -R '^($(shell echo $(TSAN_TESTS) | tr ' ' '|'))$$'

# libFuzzer targets (fuzz/README.md), built with clang in $(FUZZ_BUILD), each
# run FUZZ_SECONDS; corpus in $(FUZZ_BUILD)/corpus, crashes in $(FUZZ_BUILD)/artifacts.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@sh scripts/test_deps.sh
	sh fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# make install [PREFIX=/usr/local] [DESTDIR=staging]: libraries, svipc.h, the
# shim, svipc.pc and the CMake package (find_package(svipc)).
PREFIX ?= /usr/local
install: all
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

bench: all
	$(BUILD)/bench/svipc-bench

# The torture test's long mode: all three types under SIGKILL/SIGSTOP for
# TORTURE_SECONDS (make test runs it CI-sized).
TORTURE_SECONDS ?= 600
torture: all
	$(BUILD)/bin/test_torture --long $(TORTURE_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
