package dashboard

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestFilterMatchesExePath: F4 matches the executable's path, as ps
// --name does (lifecycle.MatchesName), case ignored: a copy of sleep in
// a directory whose name is in neither its comm nor its command line is
// found by that directory's name, written in capitals.
func TestFilterMatchesExePath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), run("exeonlydir"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sleep")
	livehelper.CopiesOf(t, "sleep", bin)
	pid := livehelper.ExecAs(t, bin, "sleep", "600")
	h := start(t, Options{PIDs: []int{pid}}, 160, 40)
	a, b := frames(t, pid)
	h.src.send(a)
	h.src.send(b)
	h.waitUntil("the helper's row", func(s string) bool { return rowOf(s, pid) != "" })
	h.key(tcell.KeyF4)
	h.runes(strings.ToUpper(run("exeonlydir")))
	h.key(tcell.KeyEnter)
	h.waitState("the filter set", func(d *Dashboard) bool { return d.vo.filter == run("exeonlydir") })
	h.waitUntil("the helper's row, found by its exe path", func(s string) bool { return rowOf(s, pid) != "" })
	h.key(tcell.KeyF4)
	h.runes("X")
	h.key(tcell.KeyEnter)
	h.waitState("the filter set", func(d *Dashboard) bool { return d.vo.filter == run("exeonlydir")+"x" })
	h.waitUntil("no row for a text in no name", func(s string) bool { return rowOf(s, pid) == "" })
}

// TestFilterNonASCII: --name and F4 fold ASCII letters only and keep
// every other byte (lifecycle.LowerASCII), as ps --name: "ÄPFEL" finds a
// process named Äpfel (strings.ToLower made it "äpfel", which matched
// nothing), and what is typed on F4 is lowered the same way.
func TestFilterNonASCII(t *testing.T) {
	name := "Äpfel" + strconv.Itoa(os.Getpid()%100000)
	pid := livehelper.Start(t, "comm", name).PID()
	h := start(t, Options{PIDs: []int{pid}, Filter: strings.ToUpper(name)}, 160, 40)
	a, b := frames(t, pid)
	h.src.send(a)
	h.src.send(b)
	h.waitState("the filter set", func(d *Dashboard) bool { return d.vo.filter == name })
	h.waitUntil("the helper's row, found by its comm", func(s string) bool { return rowOf(s, pid) != "" })
	h.key(tcell.KeyF4)
	h.runes("Ö")
	h.key(tcell.KeyEnter)
	h.waitState("the filter typed", func(d *Dashboard) bool { return d.vo.filter == name+"Ö" })
	h.waitUntil("no row for a text in no name", func(s string) bool { return rowOf(s, pid) == "" })
}
