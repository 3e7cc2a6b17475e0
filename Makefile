# pinspect — the two commands a newcomer needs are `make run` and `make test`.
GO       ?= go
BIN      := bin/pinspect
PKGS     := ./...
STATICCHECK_VERSION ?= 2025.1.1

.PHONY: all build run test lint fmt-check vet staticcheck clean bench

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pinspect

## run: pinspect on this machine's /proc (the dashboard on a terminal, the ps table otherwise)
run: build
	./$(BIN)

## test: the whole suite, as CI runs it (race detector on; fuzz seed corpora run as tests)
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## bench: workload at 250..2,000 processes x 9 threads; pinspect vs the floor, ps, top, htop (root, minutes; see docs/PERFORMANCE.md)
bench:
	GO=$(GO) fixtures/bench/bench.sh $(BENCHFLAGS)

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
