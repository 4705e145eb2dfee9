# Thin wrapper: set-up (scripts/install-deps) and CMake. See README.md.
BUILD    ?= build
SANBUILD ?= build-san
JOBS     ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
# Warnings are errors in `make test` (and so in CI, .ci/run), not in an
# ordinary build: KASSA_WERROR in CMakeLists.txt.
WERROR ?= OFF

.PHONY: all deps build test test-unit test-san demo demo-kkt fuzz bench crash chaos year lanes partition clean deb deb-test format-check

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DKASSA_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# Everything: the normal build's tests, then the same tests under
# ASan+UBSan with clang, plus a short run of every fuzz target.
test: deps format-check
	$(MAKE) --no-print-directory build WERROR=ON
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-san
	$(MAKE) --no-print-directory deb-test

test-san: deps
	cmake -S . -B $(SANBUILD) -DCMAKE_C_COMPILER=clang -DKASSA_SANITIZE=ON \
	      -DKASSA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DKASSA_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(SANBUILD) -j $(JOBS)
	ctest --test-dir $(SANBUILD) --output-on-failure -j $(JOBS)

# Every C file as clang-format writes it (.clang-format at the root).
format-check:
	scripts/check-format

# The Debian package: $(DEBBUILD)/kassa_VERSION_ARCH.deb, lintian without
# errors (scripts/make-deb). `dpkg -i` it on a shop's machine (README).
DEBBUILD ?= build-deb
deb: deps
	JOBS=$(JOBS) scripts/make-deb $(DEBBUILD)

# The package extracted into a temporary root: the installed programs, the
# settings and `systemd-analyze verify` on the units (tests/integration/test_deb.py).
deb-test: deb
	python3 tests/integration/test_deb.py $(DEBBUILD)/kassa_*.deb

demo: build
	$(BUILD)/kassa demo

# The same store day through a Shtrih-M register (kassa-kkt-emu, issue 22).
demo-kkt: build
	$(BUILD)/kassa demo --kkt

# Long fuzzing: every target for FUZZ_SECONDS each (make fuzz FUZZ_SECONDS=3600).
fuzz: deps
	cmake -S . -B $(SANBUILD) -DCMAKE_C_COMPILER=clang -DKASSA_SANITIZE=ON \
	      -DKASSA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(SANBUILD) -j $(JOBS)
	tests/fuzz/run-all.sh $(SANBUILD) $(FUZZ_SECONDS)

# The kill loops at length: the FN writer, the till, `kassa serve` and
# `kassa ofd flush`, N SIGKILLs each, each ending in its audit (`kassa
# fsck`'s checks; the operator holding every document once).
N ?= 1000
crash: build
	$(BUILD)/tests/fn_crash $(BUILD)/tests/fn_storm $(N)
	$(BUILD)/tests/till_storm kill - $(N)
	python3 tests/crash/serve_storm.py $(BUILD)/kassa $(BUILD)/kassa-operator $(N)
	python3 tests/crash/flush_kill.py $(BUILD)/kassa-operator $(BUILD)/tests/e2e_till $(BUILD)/kassa $(N)

# The link-chaos run at length (tests/integration/test_chaos.py).
CHAOS_RECEIPTS ?= 5000
CHAOS_ROUNDS ?= 200
CHAOS_SEED ?=
chaos: build
	python3 tests/integration/test_chaos.py $(BUILD)/kassa-operator $(BUILD)/tests/e2e_till \
	        $(BUILD)/kassa $(CHAOS_RECEIPTS) $(CHAOS_ROUNDS) $(CHAOS_SEED)

# A shop's year (tests/integration/test_year.py): daily shifts, cash in/out,
# X and Z reconciled with the receipts, a correction, an FN replaced
# mid-year, nothing owed at the end, fsck clean. YEAR_DAYS working days.
YEAR_DAYS ?= 365
year: build
	python3 tests/integration/test_year.py $(BUILD)/kassa $(BUILD)/kassa-operator $(YEAR_DAYS)

# Lanes of one store racing through a store node on their own PostgreSQL
# (tests/integration/test_store_lanes.py): LANES `kassa serve`, LANE_CODES codes.
# LANE_TIMEOUT_MS is the lanes' [store] timeout_ms, the production default
# (150): 30 lanes passed with it on a quiet machine (docs/BENCHMARKS.md). A
# lane that times out rightly sells alone (a conflict, which fails the run's
# zero-double check), so on a loaded host give the node longer:
# LANE_TIMEOUT_MS=5000.
LANES ?= 30
LANE_CODES ?= 5000
LANE_TIMEOUT_MS ?= 150
lanes: build
	STORE_TIMEOUT_MS=$(LANE_TIMEOUT_MS) python3 tests/integration/test_store_lanes.py \
	        $(BUILD)/kassa $(BUILD)/kassa-operator $(LANES) $(LANE_CODES)

# The same with a network partition: the node behind a veth pair in a
# network namespace of its own, the link delayed (netem, or htb where the
# kernel has no netem), cut, healed (root; otherwise it says why and exits 77).
partition: build
	STORE_TIMEOUT_MS=$(LANE_TIMEOUT_MS) python3 tests/integration/test_store_lanes.py \
	        $(BUILD)/kassa $(BUILD)/kassa-operator $(LANES) $(LANE_CODES) --partition

bench: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS)
	bench/run.sh build-bench

clean:
	rm -rf $(BUILD) $(SANBUILD) build-bench $(DEBBUILD)
