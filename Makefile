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

.PHONY: build scenario test bench deps clean
build:
	$(GO) build -o $(BIN) ./cmd/redlock-harness

# deps installs redis-server from Debian's packages when it is missing (as root; otherwise it prints the command).
deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get install -y redis-server || (apt-get update && apt-get install -y redis-server)); \
	  else echo "redis-server is missing: run 'sudo apt-get install -y redis-server'"; exit 2; fi; }

scenario: deps build
	./$(BIN) run $(RUN_FLAGS)

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

clean:
	rm -rf bin
