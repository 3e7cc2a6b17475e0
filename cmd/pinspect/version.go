//go:build linux

package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/pinspect/pinspect/views/metrics"
)

// Build facts the linker may set (`make build` does, with -ldflags "-X
// main.version=... -X main.commit=..."). They are empty in a plain `go
// build` or `go install`, whose facts come from the build info the Go
// toolchain embeds (see buildFacts).
var (
	version string
	commit  string
)

// develVersion names a build whose version nobody recorded: a `go build`
// in a checkout without -ldflags.
const develVersion = "devel"

// buildFacts returns what pinspect knows about its own build: the linker
// values when set, else the embedded build info. `go install
// github.com/pinspect/pinspect/cmd/pinspect@v0.2.0` records v0.2.0 as the
// main module's version (and a pseudo-version names its commit); a build
// in a git checkout records vcs.revision unless -buildvcs=false.
func buildFacts() metrics.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveBuildInfo(bi, version, commit)
}

// resolveBuildInfo is buildFacts over given inputs (bi may be nil).
func resolveBuildInfo(bi *debug.BuildInfo, ldVersion, ldCommit string) metrics.BuildInfo {
	out := metrics.BuildInfo{
		Version:   ldVersion,
		Revision:  ldCommit,
		GoVersion: runtime.Version(),
		GoOS:      runtime.GOOS,
		GoArch:    runtime.GOARCH,
	}
	if bi != nil {
		if bi.GoVersion != "" {
			out.GoVersion = bi.GoVersion
		}
		if out.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			out.Version = bi.Main.Version
		}
		var rev string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "-tags":
				out.Tags = s.Value
			}
		}
		if rev != "" && modified {
			rev += "-modified"
		}
		if rev == "" {
			rev = pseudoVersionRevision(bi.Main.Version)
		}
		if out.Revision == "" {
			out.Revision = rev
		}
	}
	if out.Version == "" {
		out.Version = develVersion
	}
	// One spelling everywhere (packages, --version, the metric): a Go
	// module version's "v" is dropped, as version.sh drops a tag's.
	if len(out.Version) > 1 && out.Version[0] == 'v' && out.Version[1] >= '0' && out.Version[1] <= '9' {
		out.Version = out.Version[1:]
	}
	if out.Revision == "" {
		out.Revision = "unknown"
	}
	return out
}

// pseudoVersionRevision returns the commit prefix a Go pseudo-version ends
// with (v0.0.0-20261206062835-540e148d2a0b, or v0.1.1-0.2026...-hash), or
// "" for a tagged version.
func pseudoVersionRevision(v string) string {
	v, _, _ = strings.Cut(v, "+") // +incompatible, +dirty
	i := strings.LastIndexByte(v, '-')
	if i < 0 {
		return ""
	}
	hash, stamp := v[i+1:], v[:i]
	if len(hash) != 12 || strings.Trim(hash, "0123456789abcdef") != "" {
		return ""
	}
	// The stamp before the hash is 14 digits (yyyymmddhhmmss), after a "-"
	// or after "0." / "pre.0." in a pseudo-version of a later tag.
	j := strings.LastIndexAny(stamp, "-.")
	if j < 0 || len(stamp)-j-1 != 14 || strings.Trim(stamp[j+1:], "0123456789") != "" {
		return ""
	}
	return hash
}

// versionLine is what `pinspect --version` prints.
func versionLine(b metrics.BuildInfo) string {
	s := fmt.Sprintf("pinspect %s (commit %s, %s, %s/%s", b.Version, b.Revision, b.GoVersion, b.GoOS, b.GoArch)
	if b.Tags != "" {
		s += ", tags " + b.Tags
	}
	return s + ")\n"
}
