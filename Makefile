# Recall Ledger — the project's front door. `make help` lists the targets.
GO      ?= go
DATA    ?= ./data
ADDR    ?= 127.0.0.1:8080
BIN     ?= ./bin

.PHONY: help run test soak fuzz bench bench-large lint fmt build clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

# run builds, then starts the binary itself rather than `go run`: Ctrl-C
# then reaches recalld, which shuts down cleanly, and make sees its exit
# status (go run reports an interrupted child as "exit status 1").
run: ## start recalld on $(ADDR) with $(DATA), creating tenant demo/demo on first start (Ctrl-C stops it cleanly)
	$(GO) build -o $(BIN)/ ./cmd/recalld
	$(BIN)/recalld --data $(DATA) --addr $(ADDR) --demo demo/demo

test: ## vet, then every test with the race detector (EventStoreDB's too when RECALL_ESDB_URL is set)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...
	@if [ -z "$$RECALL_ESDB_URL" ]; then echo "NOTE: the EventStoreDB contract suite was SKIPPED, not passed: RECALL_ESDB_URL is not set (scripts/esdb-start.sh starts a server where a container engine runs). The esdb adapter ran against its gRPC protocol fake only."; fi

soak: ## the crash loop with 200 SIGKILL cycles, then every fuzz target for 2 minutes
	RECALL_CRASH_CYCLES=200 $(GO) test -count=1 -timeout 30m -run CrashLoop -v ./cmd/recalld/
	$(MAKE) fuzz FUZZTIME=2m

FUZZTIME ?= 30s
fuzz: ## run every fuzz target for $(FUZZTIME) (found inputs land in testdata/fuzz when they fail)
	for t in FuzzDecideRecall FuzzParsers FuzzEventDecode; do $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./domain/ || exit 1; done
	for t in FuzzRequestBodies FuzzQueryParameters; do $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./adapters/httpapi/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzArguments$$' -fuzztime $(FUZZTIME) ./cmd/recallctl/
	$(GO) test -run '^$$' -fuzz '^FuzzCanonicalEncodingMatchesTheLegacyJSONHashInput$$' -fuzztime $(FUZZTIME) ./projections/auditlog/

bench: build ## recallbench's scenarios at a size that takes a few minutes, then the micro-benchmarks; JSON lines and figures, not pass/fail
	$(BIN)/recallbench --size small
	$(GO) test -run '^$$' -bench . -benchtime 1x ./adapters/readmodel/
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./adapters/eventstore/embedded/
	$(GO) test -run '^$$' -bench . ./domain/

bench-large: build ## recallbench at 10 million events (an hour or more on 2 cores)
	$(BIN)/recallbench --size large

lint: ## gofmt check and vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...

fmt: ## format the code
	gofmt -w .

build: ## build the commands into $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

clean: ## remove built binaries (never the data directory)
	rm -rf $(BIN)
