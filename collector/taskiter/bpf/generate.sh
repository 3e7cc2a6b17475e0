#!/bin/sh
# Compiles taskiter.bpf.c (twice: the walk's object and the seq_file
# iterator's; and events.bpf.c, below) with bpf2go (clang and llvm-strip from Debian's
# clang and llvm packages; bpf_helpers.h and bpf_core_read.h from
# libbpf-dev) into OUTDIR, by default the taskiter package: the Go
# bindings taskiter_bpf{el,eb}.go and the little- and big-endian objects
# taskiter_bpf{el,eb}.o they embed.
#
# `make generate` writes them into the package; `make bpf-check` (part of
# `make test`) writes them into a temporary directory and compares, so the
# committed objects always match this source. bpf2go keeps the build
# reproducible: no clang version string, no absolute paths, DWARF
# stripped.
set -eu
cd "$(dirname "$0")/.."
out=${1:-.}
"${GO:-go}" tool bpf2go \
	-cc "${BPF_CLANG:-clang}" \
	-cflags "-O2 -mcpu=v3 -Wall -Werror" \
	-target bpfel,bpfeb \
	-go-package taskiter \
	-output-dir "$out" \
	-type task_rec -type group_rec -type ident_slot \
	taskIter bpf/taskiter.bpf.c
# The seq_file iterator (pinspect_tasks, for kernels without the walk):
# the same source with PINSPECT_SEQ, into taskiterseq_bpf{el,eb}.{go,o},
# so that loading the walk does not parse it (the walk's helpers it does
# not use are left out: no warning for them).
"${GO:-go}" tool bpf2go \
	-cc "${BPF_CLANG:-clang}" \
	-cflags "-O2 -mcpu=v3 -Wall -Werror -Wno-unused-function -DPINSPECT_SEQ" \
	-target bpfel,bpfeb \
	-go-package taskiter \
	-output-dir "$out" \
	-output-stem taskiterseq \
	taskIterSeq bpf/taskiter.bpf.c
# The process-event program (events.bpf.c, events.h): its own source and
# objects, procevents_bpf{el,eb}.{go,o}, so that a change to either
# program leaves the other's object as it was.
exec "${GO:-go}" tool bpf2go \
	-cc "${BPF_CLANG:-clang}" \
	-cflags "-O2 -mcpu=v3 -Wall -Werror" \
	-target bpfel,bpfeb \
	-go-package taskiter \
	-output-dir "$out" \
	procEvents bpf/events.bpf.c
