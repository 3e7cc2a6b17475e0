//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/views/dashboard"
)

// dashboardConfigPath is where F2 keeps the dashboard's setup:
// $XDG_CONFIG_HOME/pinspect/dashboard.conf, or ~/.config/pinspect/ when
// XDG_CONFIG_HOME is not set (the XDG base directory rules). "" when
// neither is known.
func dashboardConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "pinspect", "dashboard.conf")
}

// loadDashboardConfig reads the setup file, bounded: a regular file of at
// most dashboard.MaxConfigBytes, opened without blocking (a FIFO is
// refused, not waited on). A missing file is the defaults; a file that
// cannot be used, or lines that cannot, give a note the dashboard shows
// at start, and it starts with what was valid.
func loadDashboardConfig(path string) (*dashboard.Config, string) {
	if path == "" {
		return nil, ""
	}
	b, err := readBoundedRegular(path, dashboard.MaxConfigBytes)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, ""
	case err != nil:
		return nil, "config " + path + ": " + err.Error() + " (defaults used)"
	}
	c, err := dashboard.ParseConfig(b)
	if err != nil {
		return &c, "config " + path + ": " + err.Error() + " (the rest applied; F2 rewrites the file)"
	}
	return &c, ""
}

// readBoundedRegular reads a regular file of at most max bytes.
func readBoundedRegular(path string, max int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if fi.Size() > int64(max) {
		return nil, fmt.Errorf("%d bytes, larger than the %d KiB a setup file may be", fi.Size(), max>>10)
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("larger than the %d KiB a setup file may be", max>>10)
	}
	return b, nil
}

// saveDashboardConfig writes the setup atomically (a temporary file in
// the same directory, then a rename), mode 0600, creating the directory
// (0700) when needed.
func saveDashboardConfig(path string, c dashboard.Config) (string, error) {
	if path == "" {
		return "", errors.New("no config directory: set XDG_CONFIG_HOME or HOME")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".dashboard.conf.*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(c.Marshal()); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}
