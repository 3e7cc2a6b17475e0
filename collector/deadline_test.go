package collector

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSnapshotDeadline compares a process snapshot of the real /proc
// with cmdline read through the deadline workers (the default) and inline
// (ReadTimeout < 0): the cost of the handoff.
func BenchmarkSnapshotDeadline(b *testing.B) {
	for _, c := range []struct {
		name    string
		timeout time.Duration
	}{{"deadline", 0}, {"inline", -1}} {
		b.Run(c.name, func(b *testing.B) {
			r, err := NewReader(Options{ReadTimeout: c.timeout})
			if err != nil {
				b.Fatal(err)
			}
			procs := 0
			for b.Loop() {
				snap, err := r.SnapshotThreads(context.Background(), false)
				if err != nil {
					b.Fatal(err)
				}
				procs = len(snap.Processes)
			}
			b.ReportMetric(float64(procs), "procs")
		})
	}
}

// BenchmarkCmdlineRead is the per-read cost of one /proc/self/cmdline read
// inline and through a deadline worker.
func BenchmarkCmdlineRead(b *testing.B) {
	p := newPathBuf("/proc")
	path := append([]byte(nil), p.setTop("self/cmdline")...)
	buf := make([]byte, 0, 4096)
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := readAt(path, &buf, DefaultCmdlineMax); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deadline", func(b *testing.B) {
		d := newDeadlineReads(DefaultReadTimeout)
		defer d.close()
		for b.Loop() {
			if _, _, err := d.read(path, &buf, DefaultCmdlineMax); err != nil {
				b.Fatal(err)
			}
		}
	})
}
