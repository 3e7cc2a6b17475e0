package collector

import (
	"debug/buildinfo"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// RuntimeKind names a language runtime pinspect recognises in a process.
type RuntimeKind string

// The runtimes recognised.
const (
	RuntimeNone    RuntimeKind = ""
	RuntimeGo      RuntimeKind = "go"
	RuntimeCPython RuntimeKind = "cpython"
	RuntimeJVM     RuntimeKind = "jvm"
	RuntimeNode    RuntimeKind = "node"
)

// Runtime is the language runtime a process runs on, with the clues that
// told it.
type Runtime struct {
	Kind RuntimeKind `json:"kind,omitempty"`
	// Version is what the clues say of the version ("go1.26.8", "3.11",
	// "17"); "" when they do not say.
	Version string `json:"version,omitempty"`
	// Evidence lists each clue with its source.
	Evidence []RuntimeClue `json:"evidence,omitempty"`
}

// RuntimeClue is one clue of a runtime: what was found, and where.
type RuntimeClue struct {
	// Source is where it was found: "exe .go.buildinfo", "maps", "exe",
	// "hsperfdata".
	Source string `json:"source"`
	// Value is what was found there (a version, a path).
	Value string `json:"value"`
}

// RuntimeClues are the facts runtime detection looks at, each read from
// its own source.
type RuntimeClues struct {
	// Exe is the executable's path (/proc/PID/exe).
	Exe string
	// MappedFiles are the paths of file-backed mappings (/proc/PID/maps).
	MappedFiles []string
	// GoVersion is the Go toolchain version from the executable's
	// .go.buildinfo section ("" when it has none or it was unreadable).
	GoVersion string
	// GoPath is the main package path from the same build info.
	GoPath string
	// HSPerfData is true when /tmp/hsperfdata_USER/PID exists in the
	// process's root: a HotSpot JVM publishes its counters there.
	HSPerfData bool
}

// DetectRuntime names the runtime the clues point at. A Go build info is
// decisive; then a mapped libjvm.so or an hsperfdata file (a JVM), a
// mapped libpython or a python executable (CPython), a mapped libnode or
// a node executable (Node.js).
func DetectRuntime(c RuntimeClues) Runtime {
	if c.GoVersion != "" {
		r := Runtime{Kind: RuntimeGo, Version: c.GoVersion, Evidence: []RuntimeClue{{"exe .go.buildinfo (Go version)", c.GoVersion}}}
		if c.GoPath != "" {
			r.Evidence = append(r.Evidence, RuntimeClue{"exe .go.buildinfo (main package)", c.GoPath})
		}
		return r
	}
	var jvm, py, node string
	for _, f := range c.MappedFiles {
		base := path.Base(strings.TrimSuffix(f, " (deleted)"))
		switch {
		case jvm == "" && base == "libjvm.so":
			jvm = f
		case py == "" && strings.HasPrefix(base, "libpython"):
			py = f
		case node == "" && strings.HasPrefix(base, "libnode.so"):
			node = f
		}
	}
	exeBase := path.Base(strings.TrimSuffix(c.Exe, " (deleted)"))
	switch {
	case jvm != "" || c.HSPerfData:
		r := Runtime{Kind: RuntimeJVM, Version: javaVersion(jvm)}
		if jvm != "" {
			r.Evidence = append(r.Evidence, RuntimeClue{"maps", jvm})
		}
		if c.HSPerfData {
			r.Evidence = append(r.Evidence, RuntimeClue{"root/tmp/hsperfdata_USER/PID", "present"})
		}
		return r
	case py != "":
		v, _ := pythonVersion(path.Base(py), "libpython")
		return Runtime{Kind: RuntimeCPython, Version: v, Evidence: []RuntimeClue{{"maps", py}}}
	case isPythonExe(exeBase):
		v, _ := pythonVersion(exeBase, "python")
		return Runtime{Kind: RuntimeCPython, Version: v, Evidence: []RuntimeClue{{"exe", c.Exe}}}
	case node != "":
		return Runtime{Kind: RuntimeNode, Evidence: []RuntimeClue{{"maps", node}}}
	case exeBase == "node" || exeBase == "nodejs":
		return Runtime{Kind: RuntimeNode, Evidence: []RuntimeClue{{"exe", c.Exe}}}
	}
	return Runtime{}
}

// isPythonExe reports names like python, python3, python3.11.
func isPythonExe(base string) bool {
	v, ok := pythonVersion(base, "python")
	return ok && (v == "" || v[0] >= '2' && v[0] <= '3')
}

// pythonVersion takes the "3.11" out of "python3.11", "libpython3.11.so.1.0"
// or "libpython3.11d.so"; ok is false when base is not prefix followed by
// an optional version.
func pythonVersion(base, prefix string) (v string, ok bool) {
	rest, found := strings.CutPrefix(base, prefix)
	if !found {
		return "", false
	}
	n := 0
	for n < len(rest) && (rest[n] >= '0' && rest[n] <= '9' || rest[n] == '.') {
		n++
	}
	v = strings.TrimRight(rest[:n], ".")
	tail := rest[n:]
	if prefix == "python" && tail != "" {
		return "", false
	}
	return v, true
}

// javaVersion takes a major version out of a JDK path such as
// /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so or
// /opt/jdk-21.0.2/lib/server/libjvm.so; "" when the path does not say.
func javaVersion(p string) string {
	for _, seg := range strings.Split(p, "/") {
		for _, pre := range []string{"java-", "jdk-", "jdk", "jre-", "openjdk-"} {
			rest, ok := strings.CutPrefix(seg, pre)
			if !ok {
				continue
			}
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if n > 0 && n <= 3 {
				return rest[:n]
			}
		}
	}
	return ""
}

// RuntimeClues gathers the runtime clues of pid: its exe, the file-backed
// paths of maps (the caller passes the mappings it read), the Go build
// info of the executable, and the JVM's hsperfdata file
// (/tmp/hsperfdata_USER/NSPID in the process's root: user is its user's
// name, nsPID its pid in its own namespace, 0 for pid). Unavailable
// names a clue that could not be read ("exe", "buildinfo") with the
// reason; a missing clue is not an error. It is safe for concurrent use.
func (r *Reader) RuntimeClues(pid int, maps []Mapping, user string, nsPID int) (RuntimeClues, map[string]string) {
	pb, link := newPathBuf(r.opts.Root), make([]byte, linkMax)
	var c RuntimeClues
	var unavail map[string]string
	miss := func(k string, err error) {
		if unavail == nil {
			unavail = make(map[string]string, 2)
		}
		unavail[k] = Reason(err)
	}
	exe, err := readlinkAt(pb.set(pid, 0, "exe"), link)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			miss("exe", err)
		}
	} else {
		c.Exe = exe
	}
	seen := map[string]bool{}
	for i := range maps {
		m := &maps[i]
		if m.Inode != 0 && m.Path != "" && !seen[m.Path] {
			seen[m.Path] = true
			c.MappedFiles = append(c.MappedFiles, m.Path)
		}
	}
	if c.Exe != "" {
		// The build info is read through the exe link (the file the
		// process runs, even deleted), under a deadline: the open and
		// the reads can block on a hung file system.
		type bi struct {
			v, path string
			err     error
		}
		ch := make(chan bi, 1)
		exePath := filepath.Join(r.opts.Root, strconv.Itoa(pid), "exe")
		go func() {
			info, err := buildinfo.ReadFile(exePath)
			if err != nil {
				ch <- bi{err: err}
				return
			}
			ch <- bi{v: info.GoVersion, path: info.Path}
		}()
		select {
		case r := <-ch:
			if r.err == nil {
				c.GoVersion, c.GoPath = r.v, r.path
			} else if IsDenied(r.err) {
				miss("buildinfo", r.err)
			}
		case <-time.After(max(r.addrSlow.timeout, DefaultReadTimeout)):
			miss("buildinfo", ErrTimeout)
		}
	}
	if nsPID == 0 {
		nsPID = pid
	}
	if user != "" {
		if _, err := os.Stat(filepath.Join(r.opts.Root, strconv.Itoa(pid), "root", "tmp", "hsperfdata_"+user, strconv.Itoa(nsPID))); err == nil {
			c.HSPerfData = true
		}
	}
	return c, unavail
}
