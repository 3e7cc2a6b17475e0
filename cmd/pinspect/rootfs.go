//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pinspect/pinspect/collector"
)

// maxPasswdBytes bounds a passwd file named with --passwd-file or found
// under --rootfs: a real one is a few KiB (100,000 users are about 6 MB).
const maxPasswdBytes = 16 << 20

// The /proc and user database pinspect reads. By default they are this
// system's (/proc, /etc/passwd). In a container the host's root file
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
		return nil // the collector's default, /etc/passwd
	}
	// A file the user named is checked: a regular file of bounded size
	// that can be opened (else every owner would silently be a number).
	st, err := os.Stat(a.passwdFile)
	if err != nil {
		return usageError{fmt.Errorf("passwd file: %w", err)}
	}
	if !st.Mode().IsRegular() {
		return usageError{fmt.Errorf("passwd file %s: not a regular file", a.passwdFile)}
	}
	if st.Size() > maxPasswdBytes {
		return usageError{fmt.Errorf("passwd file %s: %d bytes, more than the %d a passwd file may have", a.passwdFile, st.Size(), maxPasswdBytes)}
	}
	f, err := os.Open(a.passwdFile)
	if err != nil {
		return usageError{fmt.Errorf("passwd file: %w", err)}
	}
	return f.Close()
}
