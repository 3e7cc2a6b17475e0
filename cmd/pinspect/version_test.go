package main

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/pinspect/pinspect/views/metrics"
)

// repoRoot is the repository root, from this package's directory.
const repoRoot = "../.."

func TestResolveBuildInfo(t *testing.T) {
	goVer := runtime.Version()
	for _, c := range []struct {
		name       string
		bi         *debug.BuildInfo
		ldV, ldC   string
		want       metrics.BuildInfo
		wantRevSet bool
	}{
		{name: "no build info", want: metrics.BuildInfo{Version: "devel", Revision: "unknown"}},
		{
			name: "go install @v0.2.0",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.2.0"}},
			want: metrics.BuildInfo{Version: "0.2.0", Revision: "unknown", GoVersion: "go1.26.8"},
		},
		{
			name: "go install of a commit (pseudo-version)",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.1.1-0.20261206062835-540e148d2a0b"}},
			want: metrics.BuildInfo{Version: "0.1.1-0.20261206062835-540e148d2a0b", Revision: "540e148d2a0b"},
		},
		{
			name: "go install @master before any tag",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261206062835-540e148d2a0b+dirty"}},
			want: metrics.BuildInfo{Version: "0.0.0-20261206062835-540e148d2a0b+dirty", Revision: "540e148d2a0b"},
		},
		{
			name: "go build in a modified checkout",
			bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "-tags", Value: "netgo"}, {Key: "vcs.revision", Value: "540e14864cc9d12934d54f747f52ab45893b4a38"}, {Key: "vcs.modified", Value: "true"},
			}},
			want: metrics.BuildInfo{Version: "devel", Revision: "540e14864cc9d12934d54f747f52ab45893b4a38-modified", Tags: "netgo"},
		},
		{
			name: "make build (-ldflags win over the build info)",
			bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "1111111111111111111111111111111111111111"},
			}},
			ldV: "0.1.0+git.3.540e148", ldC: "540e14864cc9d12934d54f747f52ab45893b4a38",
			want: metrics.BuildInfo{Version: "0.1.0+git.3.540e148", Revision: "540e14864cc9d12934d54f747f52ab45893b4a38"},
		},
		{
			name: "a prerelease tag is not a pseudo-version",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0-rc.1"}},
			want: metrics.BuildInfo{Version: "0.2.0-rc.1", Revision: "unknown"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := resolveBuildInfo(c.bi, c.ldV, c.ldC)
			if c.want.GoVersion == "" {
				c.want.GoVersion = goVer
			}
			c.want.GoOS, c.want.GoArch = runtime.GOOS, runtime.GOARCH
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"--version", "-v"} {
		out, errs, code := runInProcess(t, flag)
		if code != 0 || errs != "" {
			t.Fatalf("%s: exit %d, stderr %q", flag, code, errs)
		}
		want := "pinspect devel (commit unknown, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
		if out != want {
			t.Errorf("%s: %q, want %q", flag, out, want)
		}
	}
}

// versionRE is a `pinspect --version` line.
var versionRE = regexp.MustCompile(`^pinspect (\S+) \(commit (\S+), (go\S+), linux/\w+\)\n$`)

// TestVersionOfRealBuilds builds pinspect the two ways a user does and
// runs --version: `make build` (the version and commit come from
// -ldflags, because the build info has no VCS data under
// -buildvcs=false, as on the CI machine) and `go install
// github.com/pinspect/pinspect/cmd/pinspect@v0.1.0` from a module proxy
// (a file:// proxy holding this tree as v0.1.0: the version comes from
// the Go build info, no -ldflags involved).
func TestVersionOfRealBuilds(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go not on PATH:", err)
	}
	t.Run("make build", func(t *testing.T) {
		t.Parallel()
		bin := filepath.Join(t.TempDir(), "pinspect")
		mk := exec.Command("make", "-s", "build", "BIN="+bin)
		mk.Dir = repoRoot
		if out, err := mk.CombinedOutput(); err != nil {
			t.Fatalf("make build: %v\n%s", err, out)
		}
		wantVersion := gitOutput(t, "packaging/version.sh")
		wantCommit := gitOutput(t, "packaging/version.sh", "commit")
		m := versionRE.FindStringSubmatch(runVersion(t, bin))
		if m == nil || m[1] != wantVersion || m[2] != wantCommit || m[3] != runtime.Version() {
			t.Errorf("make build: %q, want version %s commit %s", m, wantVersion, wantCommit)
		}
		if !regexp.MustCompile(`^\d+\.\d+\.\d+(\+\S+)?$`).MatchString(wantVersion) {
			t.Errorf("packaging/version.sh: %q is not a semantic version packages can carry", wantVersion)
		}
	})
	t.Run("go install @v0.1.0", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		proxy := filepath.Join(dir, "proxy")
		writeModuleProxy(t, proxy, "github.com/pinspect/pinspect", "v0.1.0")
		gobinDir := filepath.Join(dir, "bin")
		// A module cache of the test's own: the machine's keeps what it
		// unzipped, so a later run would build an earlier run's tree as
		// v0.1.0 (and this one would be left in it). The dependencies
		// come from the machine's cache, whose download directory has a
		// module proxy's layout. -modcacherw lets the temporary directory
		// be removed; -trimpath keeps the build cache's entries
		// independent of where the modules were unzipped.
		sharedCache, err := exec.Command(gobin, "env", "GOMODCACHE").Output()
		if err != nil {
			t.Fatal("go env GOMODCACHE:", err)
		}
		cmd := exec.Command(gobin, "install", "github.com/pinspect/pinspect/cmd/pinspect@v0.1.0")
		cmd.Dir = dir // outside the module: go install pkg@version ignores any go.mod
		cmd.Env = append(os.Environ(),
			"GOPROXY=file://"+proxy+",file://"+filepath.Join(strings.TrimSpace(string(sharedCache)), "cache", "download"),
			"GOMODCACHE="+filepath.Join(dir, "modcache"),
			"GOSUMDB=off", "GOFLAGS=-modcacherw -trimpath", "GOBIN="+gobinDir, "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go install: %v\n%s", err, out)
		}
		line := runVersion(t, filepath.Join(gobinDir, "pinspect"))
		want := "pinspect 0.1.0 (commit unknown, " + runtime.Version() + ", linux/" + runtime.GOARCH + ")\n"
		if line != want {
			t.Errorf("go install @v0.1.0: %q, want %q", line, want)
		}
	})
}

func runVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	return string(out)
}

// gitOutput runs a command in the repository root and returns its trimmed
// output.
func gitOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}

// writeModuleProxy lays out a GOPROXY directory serving this repository's
// files (tracked, and untracked but not ignored) as module@version. Like
// the go command's own module zips, it leaves out the directories of
// other modules (a go.mod below the root: fixtures/bench/storecmp), which
// the go command refuses to unzip.
func writeModuleProxy(t *testing.T, proxy, module, version string) {
	t.Helper()
	files := strings.Fields(gitOutput(t, "git", "ls-files", "--cached", "--others", "--exclude-standard"))
	var nested []string // "dir/" of each module below the root
	for _, f := range files {
		if strings.HasSuffix(f, "/go.mod") {
			nested = append(nested, strings.TrimSuffix(f, "go.mod"))
		}
	}
	files = slices.DeleteFunc(files, func(f string) bool {
		return slices.ContainsFunc(nested, func(d string) bool { return strings.HasPrefix(f, d) })
	})
	at := filepath.Join(proxy, module, "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-12-06T00:00:00Z"}`),
		version + ".mod":  gomod,
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		} else if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(module + "@" + version + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLinuxOnly: building for another system stops with a message that
// says why, not with errors from deep in the collector: every file of the
// command but other_os.go is built for Linux only, and the build for
// another system fails with that one message.
func TestLinuxOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "other_os.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// A file for a build tag (pprof) is Linux-only too.
		if !strings.HasPrefix(string(src), "//go:build linux\n") && !strings.HasPrefix(string(src), "//go:build linux && ") {
			t.Errorf("cmd/pinspect/%s does not start with //go:build linux (other_os.go stops a build for another system)", f)
		}
	}
	for _, goos := range []string{"darwin", "windows", "freebsd"} {
		cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("GOOS=%s go build succeeded", goos)
		}
		if !strings.Contains(string(out), `"pinspect runs on Linux only: it reads /proc"`) || strings.Count(string(out), ".go:") != 1 {
			t.Errorf("GOOS=%s go build: want the one Linux-only error:\n%s", goos, out)
		}
	}
}
