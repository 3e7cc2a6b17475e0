# pinspect — the two commands a newcomer needs are `make run` and `make test`.
GO       ?= go
BIN      := bin/pinspect
PKGS     := ./...
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test fuzz bench promsoak lint fmt-check vet staticcheck clean generate bpf-check

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pinspect

## run: pinspect on this machine's /proc (the dashboard on a terminal, the ps table otherwise)
run: build
	./$(BIN)

## test: the whole suite, as CI runs it: lint, then the tests with the race
## detector (fuzz seed corpora run as ordinary tests)
test: lint bpf-check
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## fuzz: run every fuzz target (go test -fuzz) for FUZZTIME each, one after another;
## a crasher is written to the package's testdata/fuzz/<FuzzName>/ and becomes a seed
FUZZTIME ?= 60s
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: workload at 250..2,000 processes x 9 threads; pinspect vs the floor, ps, top, htop (root, minutes; see docs/PERFORMANCE.md)
bench:
	GO=$(GO) fixtures/bench/bench.sh $(BENCHFLAGS)
	GO=$(GO) fixtures/bench/serveload.sh $(SERVEBENCHFLAGS)

## bench-serve: issue 19's attacks on pinspect serve (a flood of 8,000 connections,
## 50 API clients against a scraper, 16 readers that never read), each agent in a
## 1 GiB memory cgroup: RSS, descriptors, scrape latency (root, minutes; docs/SECURITY.md)
bench-serve:
	GO=$(GO) fixtures/bench/serveload.sh $(SERVEBENCHFLAGS)

## promsoak: a real Prometheus scrapes pinspect serve for 10 minutes under process churn; reports the
## distinct series it stored, the agent's cost, promtool's checks and the dashboard's queries (root)
promsoak:
	GO=$(GO) fixtures/bench/promsoak.sh $(PROMSOAKFLAGS)

## generate: recompile the BPF task iterator (collector/taskiter/bpf/*.c) into
## the committed Go bindings and objects (needs clang, llvm and libbpf-dev)
generate:
	GO=$(GO) $(GO) generate ./collector/taskiter/

## bpf-check: the committed BPF objects and bindings are what the source compiles to
bpf-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	GO=$(GO) collector/taskiter/bpf/generate.sh "$$tmp" && \
	for f in "$$tmp"/*; do \
	  if ! cmp -s "$$f" "collector/taskiter/$${f##*/}"; then \
	    echo "collector/taskiter/$${f##*/} does not match collector/taskiter/bpf/: run make generate"; exit 1; \
	  fi; \
	done && echo "bpf-check: the committed BPF objects match their source"

## lint: gofmt, go vet, staticcheck
lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

clean:
	rm -rf bin
