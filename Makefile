# redlock-harness: `make scenario NAME=partition` sets everything up and runs a scenario; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
BIN := bin/redlock-harness
NAME ?= partition
STRATEGY ?=
SEED ?= 1
DURATION ?=
BACKEND ?= local

RUN_FLAGS := --scenario $(NAME) --seed $(SEED) --backend $(BACKEND)
ifneq ($(STRATEGY),)
RUN_FLAGS += --strategy $(STRATEGY)
endif
ifneq ($(DURATION),)
RUN_FLAGS += --duration $(DURATION)
endif
ifneq ($(PARALLEL),)
RUN_FLAGS += --parallel $(PARALLEL)
endif

# SEEDS: seeds per cell for compare; unset means its default, one (the whole matrix in about 9 minutes on 2 CPUs).
SEEDS ?=
GATE_CI_SCENARIOS ?= baseline,client-stall,crash-restart,clock-jump,delayed-restart
GATE_CI_STRATEGIES ?= setnx-del,setnx-expire,get-del,lua,lua-watchdog,lua-watchdog-cancel,redlock-naive,redlock,redsync,fenced
# The other systems' cells CI holds: the one that separates each from its fenced twin, and their n/a cells.
GATE_CI_SYSTEMS ?= --scenarios baseline,client-stall,clock-jump --strategies etcd-mutex,etcd-mutex-fenced,pg-advisory,pg-unique-row,pg-unique-row-fenced
# PARALLEL: runs at once for run, compare and gate; unset means one per CPU (more starves the multi-node locks).
PARALLEL ?=


.PHONY: build scenario test test-short test-deps bench deps clean compare gate gate-ci gate-shard gate-merge readme-table mutants mutants-ci
build:
	$(GO) build -o $(BIN) ./cmd/redlock-harness

# deps provisions the machine from Debian's packages: redis-server (and redis-benchmark) for the Redis nodes,
# postgresql-15 for the PostgreSQL system, libfaketime and a C compiler for the clock faults (the harness installs
# nothing itself; etcd's members are this program's own, built on etcd's embedded server). As root it installs
# what is missing; otherwise it prints the command.
DEPS_MISSING = $(shell command -v redis-server >/dev/null 2>&1 || echo redis-server; \
  { [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; } || echo libfaketime; \
  command -v cc >/dev/null 2>&1 || echo gcc; \
  [ -x /usr/lib/postgresql/15/bin/postgres ] || echo postgresql-15)
# The packages' install scripts would start their own servers (redis-server on 6379, a PostgreSQL cluster on
# 5432): a policy-rc.d that refuses every service start keeps them down; the harness runs its own.
deps:
	@missing="$(DEPS_MISSING)"; [ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ]; then export DEBIAN_FRONTEND=noninteractive; \
	    made=; [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; }; \
	    (apt-get install -y $$missing || (apt-get update && apt-get install -y $$missing)); rc=$$?; \
	    [ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; [ $$rc = 0 ] || exit $$rc; \
	  else echo "missing: $$missing: run 'sudo apt-get install -y $$missing'"; exit 2; fi; }
	@$(MAKE) --no-print-directory build >/dev/null && ./$(BIN) setup

# test-deps is what the tests need: the same packages.
test-deps: deps

scenario: deps build
	./$(BIN) run $(RUN_FLAGS)

# test runs every test under the race detector: unit tests, real nodes, whole runs, Ctrl-C across scenarios and
# both backends. The packages that start servers or run whole scenarios take the machine one at a time
# (internal/testslot): two of them at once on 2 CPUs starve each other's runs. Inside one, tests run two at a
# time (go test's default, one per CPU): on a slower machine of the same size four at once left runs with too
# little work for a verdict, or with a restart too slow to land inside a holder's section.
test: test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

# test-short is the edit loop: unit tests and quick checks against real nodes, in under a minute (no race detector,
# no whole runs, no docker); make test stays the command that runs everything.
test-short: deps
	$(GO) test -short -count=1 ./...

# bench writes results/bench/<timestamp>.md: lock cycles/s per strategy (proxied, direct, redis-benchmark) and
# the checker's throughput.
bench: deps build
	@mkdir -p results/bench; f=results/bench/$$(date +%Y%m%d-%H%M%S).md; \
	./$(BIN) bench --out $$f && \
	{ echo; echo '## Checker and report benchmarks'; echo; echo '```'; \
	  $(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./checker/... ./history/...; echo '```'; } >> $$f && \
	echo "written: $$f"

# compare runs every strategy under every scenario, SEEDS seeds per cell: results/compare/<timestamp>/matrix.{md,json,html}.
compare: deps build
	./$(BIN) compare $(if $(SEEDS),--seeds $(SEEDS)) $(if $(PARALLEL),--parallel $(PARALLEL))

# gate holds every cell of scenarios/expectations.yaml to its expectation on 10 seeds (exit 1 on a regression).
gate: deps build
	./$(BIN) gate $(if $(FROM),--from $(FROM),--seeds 10 $(if $(PARALLEL),--parallel $(PARALLEL))) --junit results/gate-junit.xml

# gate-shard makes shard SHARD=i/n of the full gate (10 seeds) on this machine, for n machines sharing it; gate-merge
# judges the shards' outputs together (SHARDS=the shard directories under results/gate/).
gate-shard: deps build
	./$(BIN) gate --seeds 10 --shard $(SHARD) --quiet $(if $(PARALLEL),--parallel $(PARALLEL))

gate-merge: build
	./$(BIN) gate --merge --junit results/gate-junit.xml $(SHARDS)

# gate-ci is the short profile CI runs on every change: every strategy under five scenarios at their full length,
# one seed each, holding only the cells whose outcome was the same on all 10 measured seeds (a cell caught on some
# seeds only, or that sometimes stalls, cannot be judged on one). An unsafe cell must be caught on that seed and a
# safe one found valid. Its first lines say so and name the cells left out. The runs go one per CPU
# (GATE_CI_PARALLEL): three at a time was faster on one machine, but a machine of the same size half as fast
# leaves no margin for the safe cells' minimum of work.
GATE_CI_PARALLEL ?= 2
gate-ci: deps build
	./$(BIN) gate --seeds 1 --steady-only --parallel $(if $(PARALLEL),$(PARALLEL),$(GATE_CI_PARALLEL)) --quiet --scenarios $(GATE_CI_SCENARIOS) --strategies $(GATE_CI_STRATEGIES) --junit results/gate-ci-junit.xml
	./$(BIN) gate --seeds 1 --steady-only $(if $(PARALLEL),--parallel $(PARALLEL)) --quiet $(GATE_CI_SYSTEMS) --junit results/gate-ci-systems-junit.xml

# readme-table runs the full gate and rewrites the results table in README.md; FROM=path/matrix.json judges a
# matrix already measured by `compare --seeds 10` instead of running it again.
readme-table: deps build
	./$(BIN) gate $(if $(FROM),--from $(FROM),--seeds 10 $(if $(PARALLEL),--parallel $(PARALLEL)) --quiet) --readme README.md --junit results/gate-junit.xml

clean:
	rm -rf bin

# mutants runs every mutant (a strategy with one planted bug) and its healthy twin under the scenarios of its plan
# (scenarios/mutants.yaml), SEEDS seeds each (default 10), and prints the mutation score and the time it took.
mutants: deps build
	./$(BIN) mutants --seeds $(if $(SEEDS),$(SEEDS),10) $(if $(PARALLEL),--parallel $(PARALLEL)) --quiet

# mutants-ci is the short profile CI runs: the mutants `make mutants` caught on all of its 10 seeds with their twins
# valid on every one, on one seed, exit 1 when the harness no longer catches one of them (the score dropped).
# One seed is gate-ci's rule too: a cell whose outcome was the same on every measured seed. A mutant caught on 8 or
# 9 of 10 would fail by chance, so it is left to `make mutants`: redlock~drift-ignored is (its greedy holder is
# caught only when another client takes the key in the last few milliseconds of its belief: 7 to 10 of 10 across
# measurements).
MUTANTS_CI ?= fenced~token-not-written-back,fenced~token-one-node,lua-watchdog-cancel~renewal-stops,lua~lease-from-end,lua~release-unchecked,lua~renew-revives,lua~renew-unchecked,lua~token-reused,redlock~quorum-half,redlock~validity-ignores-elapsed
# Its runs go one per CPU (MUTANTS_CI_PARALLEL), not three for every two as `make mutants` does: CI may land on a
# slower machine of the same size, and an overloaded run can miss the moment that catches a mutant.
MUTANTS_CI_PARALLEL ?= 2
mutants-ci: deps build
	./$(BIN) mutants --seeds 1 --gate --mutants '$(MUTANTS_CI)' --parallel $(if $(PARALLEL),$(PARALLEL),$(MUTANTS_CI_PARALLEL)) --quiet
