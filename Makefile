# pinspect — the two commands a newcomer needs are `make run` and `make test`.
GO       ?= go
BIN      := bin/pinspect
PKGS     := ./...
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test test-bigendian fuzz bench promsoak lint fmt-check vet staticcheck clean generate bpf-check man completions install uninstall package

all: build

# The version and commit stamped into the binary (`pinspect --version`,
# pinspect_build_info): from git describe, else the newest CHANGELOG
# release (packaging/version.sh says how). A `go install ...@vX` build has
# no -ldflags and takes both from the Go build info instead.
VERSION ?= $(shell packaging/version.sh)
COMMIT  ?= $(shell packaging/version.sh commit)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Man pages carry the last commit's date, so a rebuild of one commit makes
# the same pages (and packages).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/pinspect

## man: the man pages, generated from the commands (cobra's doc generator), gzipped into bin/man;
## the generator is in a build with -tags man only (bin/pinspect-man), so pinspect itself does not link it
man:
	$(GO) build -tags man -ldflags '$(LDFLAGS)' -o bin/pinspect-man ./cmd/pinspect
	rm -rf bin/man
	./bin/pinspect-man __man bin/man
	gzip -9n bin/man/*.1

## completions: the bash, zsh and fish completion scripts, into bin/completions
completions: build
	mkdir -p bin/completions
	./$(BIN) completion bash > bin/completions/pinspect.bash
	./$(BIN) completion zsh > bin/completions/_pinspect
	./$(BIN) completion fish > bin/completions/pinspect.fish

## install: the binary, man pages and completions under $(DESTDIR)$(PREFIX)
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
install: man completions
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/pinspect
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 0644 bin/man/*.1.gz $(DESTDIR)$(MANDIR)/man1/
	install -D -m 0644 bin/completions/pinspect.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/pinspect
	install -D -m 0644 bin/completions/_pinspect $(DESTDIR)$(DATADIR)/zsh/site-functions/_pinspect
	install -D -m 0644 bin/completions/pinspect.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/pinspect.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pinspect $(DESTDIR)$(MANDIR)/man1/pinspect.1.gz $(DESTDIR)$(MANDIR)/man1/pinspect-*.1.gz
	rm -f $(DESTDIR)$(DATADIR)/bash-completion/completions/pinspect $(DESTDIR)$(DATADIR)/zsh/site-functions/_pinspect $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/pinspect.fish

## package: a .deb and an .rpm for this machine's architecture in dist/ (nfpm, run pinned with go run: no go.mod dependency; see packaging/README.md)
NFPM_VERSION ?= v2.48.0
package: man completions
	mkdir -p dist
	for p in deb rpm; do \
	  PINSPECT_VERSION='$(VERSION)' PINSPECT_ARCH=$$($(GO) env GOARCH) \
	    $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) package \
	    --config packaging/nfpm.yaml --packager $$p --target dist/ || exit 1; \
	done

## run: pinspect on this machine's /proc (the dashboard on a terminal, the ps table otherwise)
run: build
	./$(BIN)

## test: the whole suite, as CI runs it: lint, then the tests with the race
## detector (fuzz seed corpora run as ordinary tests); a package may take 15 minutes: cmd/pinspect
## takes about 5 alone, and more than 10 when other work loads the machine
test: lint bpf-check
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

## test-bigendian: the collector's parsers and fixture-tree reads on a big-endian CPU (s390x under
## qemu-user, apt-get install qemu-user): getdents records, netlink and struct taskstats are in the
## host's byte order, and a little-endian read lists no process there
test-bigendian:
	GOARCH=s390x $(GO) test -c -o bin/collector-s390x.test ./collector
	cd collector && qemu-s390x ../bin/collector-s390x.test -test.run '^(TestParse|TestFixture|TestListTasks|Fuzz)'

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
	$(GO) vet -tags man ./cmd/pinspect

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

clean:
	rm -rf bin dist
