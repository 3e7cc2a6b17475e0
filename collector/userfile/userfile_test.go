package userfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRead: a regular file is read whole; a device that never ends
// (/dev/zero), a FIFO with no writer, a directory and a file over the cap
// are refused at once with a message naming the path and the reason.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yml")
	if err := os.WriteFile(ok, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(ok, 100); err != nil || string(b) != "a: 1\n" {
		t.Fatalf("regular file: %q, %v", b, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(link, 100); err != nil {
		t.Errorf("symlink to a regular file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		max  int64
		want error
		text string
	}{
		{"/dev/zero", 1 << 20, ErrNotRegular, "character device"},
		{fifo, 1 << 20, ErrNotRegular, "FIFO"},
		{dir, 1 << 20, ErrNotRegular, "directory"},
		{ok, 3, ErrTooLarge, "at most 3"},
		{filepath.Join(dir, "missing"), 1, os.ErrNotExist, "no such file"},
	} {
		_, err := Read(c.path, c.max)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %v mentioning %q", c.path, err, c.want, c.text)
		}
	}
}
