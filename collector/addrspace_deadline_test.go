package collector

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mapsCopy copies the maps-c fixture into a temporary root and returns the
// root and the process directory.
func mapsCopy(t *testing.T) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "fixtures", "proc", "maps-c"))); err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(root, "26269")
}

// fifoAt replaces path by a FIFO (a read of it blocks like a /proc read
// stuck on the target's mmap lock) and releases it at the end of the test.
func fifoAt(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Each abandoned worker is blocked in open or read: release
		// every one of them.
		for range MaxStuckReads {
			releaseFIFO(path)
		}
	})
}

// TestAddressSpaceDeadline: maps, smaps_rollup and smaps that block (a
// FIFO) do not hang AddressSpace: the field is unavailable with reason
// "timeout", the rest is still read, and the stuck read is counted; once
// released the worker comes back.
func TestAddressSpaceDeadline(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		key   string // the field of the stuck file
		opt   AddrOptions
		field map[string]string // unavailable fields wanted
		maps  bool              // maps still read
	}{
		{"maps", "maps", "maps", AddrOptions{}, map[string]string{"maps": "timeout", "memory": "timeout"}, false},
		{"rollup", "smaps_rollup", "memory", AddrOptions{}, map[string]string{"memory": "timeout"}, true},
		{"smaps", "smaps", "maps", AddrOptions{PerMapping: true}, map[string]string{"maps": "timeout", "memory": "timeout"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, dir := mapsCopy(t)
			fifo := filepath.Join(dir, c.file)
			fifoAt(t, fifo)
			r, err := NewReader(Options{Root: root, ReadTimeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			as, err := r.AddressSpace(26269, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.field {
				if got := as.Unavailable[k]; got != want {
					t.Errorf("unavailable[%s] = %q, want %q (all: %v)", k, got, want, as.Unavailable)
				}
			}
			if len(as.Unavailable) != len(c.field) {
				t.Errorf("unavailable %v, want only %v", as.Unavailable, c.field)
			}
			if got := len(as.Maps) > 0; got != c.maps {
				t.Errorf("%d maps read, want maps %v", len(as.Maps), c.maps)
			}
			if as.Memory != nil {
				t.Errorf("memory %+v from a stuck read", as.Memory)
			}
			if got := r.StuckReads(); got != 1 {
				t.Errorf("stuck reads = %d, want 1", got)
			}
			// Again while stuck: not retried.
			as, err = r.AddressSpace(26269, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := as.Unavailable[c.key]; got != "timeout (still stuck)" {
				t.Errorf("second read: unavailable %v", as.Unavailable)
			}
			releaseFIFO(fifo)
			waitFor(t, "the stuck read to return", func() bool { return r.StuckReads() == 0 })
		})
	}
}

// TestAddressSpaceSlowMaps: a maps file that keeps coming, one line at a
// time over about three deadlines (a huge address space, not a stuck
// one), is read whole: progress earns further deadlines.
//
// The only timing in it is the gap between two lines, an eighth of the
// deadline: the first line is in the FIFO before the read begins (the
// test holds it open read-write, so the reader's open returns at once and
// no write blocks), so a writer goroutine late to its first run cannot
// time the read out (it did, with a 30 ms deadline under a load of 10-40
// on 2 CPUs: "0 of 24 mappings, unavailable maps:timeout"). The last line
// comes 23 gaps, almost three deadlines, after the read began.
func TestAddressSpaceSlowMaps(t *testing.T) {
	root, dir := mapsCopy(t)
	path := filepath.Join(dir, "maps")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseMaps(content)
	if err != nil {
		t.Fatal(err)
	}
	fifoAt(t, path)
	const timeout = 250 * time.Millisecond
	lines := splitLines(content)
	if len(lines) < 20 {
		t.Fatalf("the fixture's maps has %d lines: too few to span several deadlines", len(lines))
	}
	gap := timeout / 8 // well inside one deadline
	// O_RDWR does not wait for a reader, and keeps the FIFO open for
	// writing until f is closed: the reader sees the end there.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(lines[0]); err != nil {
		f.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer f.Close()
		for _, l := range lines[1:] {
			time.Sleep(gap)
			if _, err := f.Write(l); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	r, err := NewReader(Options{Root: root, ReadTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	as, err := r.AddressSpace(26269, AddrOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(as.Unavailable) != 0 || len(as.Maps) != len(want) {
		t.Errorf("slow maps: %d of %d mappings, unavailable %v", len(as.Maps), len(want), as.Unavailable)
	}
}

// splitLines splits b after each newline, keeping it.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i < len(b) {
			i++
		}
		out = append(out, b[:i])
		b = b[i:]
	}
	return out
}
