//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/userfile"
	"github.com/pinspect/pinspect/views/sanitize"
)

// The /proc and user database pinspect reads. By default they are this
// system's (/proc, its user database). In a container the host's root file
// system is mounted somewhere (docs/DEPLOY.md): --rootfs DIR reads
// DIR/proc and names users from DIR/etc/passwd; --proc-root and
// --passwd-file name either one alone and win over --rootfs.

// readerOptions are the collector options of the common flags, with
// --rootfs resolved and a named passwd file checked.
func (a *app) readerOptions(threads bool) (collector.Options, error) {
	if err := a.resolveRoots(); err != nil {
		return collector.Options{}, err
	}
	b, err := a.collectorBackend()
	if err != nil {
		return collector.Options{}, err
	}
	return collector.Options{Root: a.procRoot, Threads: threads, PasswdPath: a.passwdFile, Backend: b}, nil
}

// resolveRoots applies --rootfs once and checks the passwd file.
func (a *app) resolveRoots() error {
	if a.rootsResolved {
		return a.rootsErr
	}
	a.rootsResolved = true
	a.rootsErr = a.resolveRootsOnce()
	return a.rootsErr
}

func (a *app) resolveRootsOnce() error {
	if a.rootCmd != nil {
		// An empty value given is no path, not the default (tester11 T6:
		// --passwd-file "" was taken as no flag).
		for _, name := range []string{"rootfs", "passwd-file", "proc-root"} {
			if f := a.rootCmd.PersistentFlags().Lookup(name); f != nil && f.Changed && f.Value.String() == "" {
				return usageError{fmt.Errorf("--%s: an empty path", name)}
			}
		}
	}
	if a.rootfs != "" {
		st, err := os.Stat(a.rootfs)
		if err != nil {
			return usageError{fmt.Errorf("--rootfs: %w", err)}
		}
		if !st.IsDir() {
			return usageError{fmt.Errorf("--rootfs %s: not a directory", a.rootfs)}
		}
		if a.rootCmd == nil || !a.rootCmd.PersistentFlags().Changed("proc-root") {
			a.procRoot = filepath.Join(a.rootfs, "proc")
		}
		if a.passwdFile == "" {
			a.passwdFile = filepath.Join(a.rootfs, "etc", "passwd")
		}
	}
	if a.passwdFile == "" {
		return nil // the collector's default: the system's user database
	}
	// A file the user named is checked as the collector reads it
	// (collector/userfile: a regular file, opened without blocking, of at
	// most userfile.MaxPasswdBytes): a FIFO cannot hang it, a device or a
	// huge file cannot bloat it, and an unreadable one is an error here
	// rather than every owner silently shown as a number; and it must be a
	// passwd file (userfile.ParsePasswd: no NUL byte, at least one entry of
	// seven fields), so a file of random bytes is not read as "no users".
	// Lines that are no entry are skipped, as the C library skips them, and
	// said once here rather than dropped silently.
	_, check, err := userfile.ReadPasswd(a.passwdFile)
	if err != nil {
		return usageError{fmt.Errorf("passwd file: %w", err)}
	}
	if check.Skipped > 0 {
		lines := "lines"
		if check.Skipped == 1 {
			lines = "line"
		}
		fmt.Fprintf(a.stderr, "pinspect: passwd file %s: %d entries read; %d other %s skipped as no entry (first: %s)\n",
			sanitize.Terminal(a.passwdFile), check.Entries, check.Skipped, lines, sanitize.Terminal(check.FirstSkipped))
	}
	return nil
}
