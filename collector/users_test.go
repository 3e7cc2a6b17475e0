package collector

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector/userfile"
)

// TestPasswdBounded: the collector reads its passwd file as every file a
// user names (collector/userfile): a FIFO in its place cannot hang the
// Reader, a file over userfile.MaxPasswdBytes or a device cannot bloat
// it. Owners are then shown by uid, never a wrong name.
func TestPasswdBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// A valid first line, then a sparse tail past the cap (no disk used).
	if _, err := f.WriteString("root:x:0:0:root:/root:/bin/sh\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(userfile.MaxPasswdBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, path := range []string{fifo, huge, "/dev/zero", dir, filepath.Join(dir, "missing")} {
		done := make(chan *Reader, 1)
		go func() {
			r, err := NewReader(Options{Root: filepath.Join("..", "fixtures", "proc", "multithread"), PasswdPath: path})
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		var r *Reader
		select {
		case r = <-done:
		case <-time.After(time.Minute): // a hang, not a slow machine
			t.Fatalf("NewReader with the passwd file %s did not return", path)
		}
		if r == nil {
			continue
		}
		if r.KnownUser("root") {
			t.Errorf("%s: root named from a file that should have been refused", path)
		}
		if got := r.users.name(0); got != "0" {
			t.Errorf("%s: uid 0 named %q, want the number", path, got)
		}
		r.Close()
	}
	// The fixture passwd file still names its users.
	r, err := NewReader(Options{Root: filepath.Join("..", "fixtures", "proc", "multithread"), PasswdPath: filepath.Join("..", "fixtures", "passwd")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.KnownUser("alice") || r.users.name(1000) != "alice" {
		t.Errorf("fixtures/passwd: alice not known")
	}
}
