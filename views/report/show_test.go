package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
)

var showTime = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// fixtureShow builds the show document of the one process in
// fixtures/proc/<scenario>.
func fixtureShow(t *testing.T, scenario string, perMapping bool) *ShowDoc {
	t.Helper()
	root := filepath.Join("..", "..", "fixtures", "proc", scenario)
	r, err := collector.NewReader(collector.Options{Root: root, PasswdPath: filepath.Join(root, "no-passwd")})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, e := range ents {
		if v, err := strconv.Atoi(e.Name()); err == nil {
			pid = v
		}
	}
	p, _, err := r.Process(pid)
	if err != nil {
		t.Fatal(err)
	}
	as, err := r.AddressSpace(pid, collector.AddrOptions{PerMapping: perMapping})
	if err != nil {
		t.Fatal(err)
	}
	return NewShowDoc(p, as, showTime, "fixtures/proc/"+scenario)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestShowGolden(t *testing.T) {
	for _, c := range []struct {
		scenario string
		per      bool
	}{{"maps-threads", true}, {"maps-c", false}, {"maps-go", false}, {"maps-zombie", true}} {
		d := fixtureShow(t, c.scenario, c.per)
		var text bytes.Buffer
		if err := WriteShowText(&text, d, ShowTextOptions{Maps: c.scenario == "maps-c"}); err != nil {
			t.Fatal(err)
		}
		golden(t, "show-"+c.scenario+".txt", text.Bytes())
		var js bytes.Buffer
		if err := WriteJSON(&js, d); err != nil {
			t.Fatal(err)
		}
		golden(t, "show-"+c.scenario+".json", js.Bytes())
	}
}

func TestShowJSONShape(t *testing.T) {
	var doc map[string]any
	d := fixtureShow(t, "maps-threads", true)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "maps", "segments", "memory", "threads", "process"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q in the show document", k)
		}
	}
	if doc["schema"] != ShowSchema {
		t.Errorf("schema %v", doc["schema"])
	}
	stacks := 0
	for _, th := range doc["threads"].([]any) {
		st, ok := th.(map[string]any)["stack"].(map[string]any)
		if ok && st["class"] == "thread_stack" {
			stacks++
		}
	}
	if stacks != len(d.Threads)-1 {
		t.Errorf("%d threads with a thread_stack, want %d", stacks, len(d.Threads)-1)
	}
	m0 := doc["maps"].([]any)[0].(map[string]any)
	if _, ok := m0["start"].(string); !ok || m0["rss_bytes"] == nil {
		t.Errorf("mapping %v: want hex start and rss_bytes", m0)
	}

	// A zombie: no maps, no memory, reasons instead; never zeros.
	doc = nil
	b, _ = json.Marshal(fixtureShow(t, "maps-zombie", true))
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"maps", "memory", "segments"} {
		if _, ok := doc[k]; ok {
			t.Errorf("zombie document has %q", k)
		}
	}
	un, _ := doc["unavailable"].(map[string]any)
	if un["maps"] != collector.ReasonZombie || un["memory"] != collector.ReasonZombie {
		t.Errorf("zombie unavailable %v", un)
	}
}

// TestShowTextSanitises: a mapping path or thread name holding escape
// sequences reaches the terminal inert.
func TestShowTextSanitises(t *testing.T) {
	evil := "/tmp/\x1b]0;owned\x07\x1b[2J.so"
	p := &collector.Process{PID: 7, ProcStat: collector.ProcStat{Comm: "x\x1b[31m", State: 'S'}, Read: collector.SrcStat | collector.SrcTasks,
		Threads: []collector.Thread{{TID: 7, Comm: "t\x1b[1m", State: 'S'}}}
	as := &collector.AddressSpace{PID: 7, Maps: []collector.Mapping{
		{Start: 0x1000, End: 0x2000, Perms: "r-xp", Dev: "fe:00", Inode: 3, Path: evil, Class: collector.SegLibCode},
		{Start: 0x2000, End: 0x3000, Perms: "rw-p", Dev: "00:00", Path: "[anon:\x1b[5m]", Class: collector.SegAnon},
	}}
	var out bytes.Buffer
	if err := WriteShowText(&out, NewShowDoc(p, as, showTime, "/proc"), ShowTextOptions{Maps: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(out.Bytes(), "\x1b\x07") {
		t.Fatalf("control bytes reached the text:\n%q", out.String())
	}
	if !strings.Contains(out.String(), "owned") {
		t.Fatalf("the path was dropped instead of made inert:\n%s", out.String())
	}
}

// TestShowDiagramFolds: 60,000 alternating mappings draw in a few rows.
func TestShowDiagramFolds(t *testing.T) {
	p := &collector.Process{PID: 9, ProcStat: collector.ProcStat{Comm: "many", State: 'S'}, Read: collector.SrcStat}
	as := &collector.AddressSpace{PID: 9}
	addr := uint64(0x7f0000000000)
	for i := 0; i < 60000; i++ {
		perms, class := "rw-p", collector.SegAnon
		if i%2 == 1 {
			perms, class = "---p", collector.SegReserved
		}
		as.Maps = append(as.Maps, collector.Mapping{Start: addr, End: addr + 4096, Perms: perms, Dev: "00:00", Class: class})
		addr += 4096
	}
	var out bytes.Buffer
	if err := WriteShowText(&out, NewShowDoc(p, as, showTime, "/proc"), ShowTextOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n > 20 {
		t.Fatalf("%d lines for 60,000 mappings:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "30000 anon + 30000 reserved mappings") {
		t.Fatalf("fold row missing:\n%s", out.String())
	}
}

// TestShowDenied: when maps is refused, every thread's stack is unknown
// with that reason, and memory is absent, not zero.
func TestShowDenied(t *testing.T) {
	p := &collector.Process{PID: 1, ProcStat: collector.ProcStat{Comm: "init", State: 'S'}, Read: collector.SrcStat | collector.SrcTasks,
		Threads: []collector.Thread{{TID: 1, Comm: "init", State: 'S'}, {TID: 5, Comm: "w", State: 'S'}}}
	as := &collector.AddressSpace{PID: 1, Unavailable: map[string]string{"maps": "permission denied", "memory": "smaps_rollup: permission denied"}}
	d := NewShowDoc(p, as, showTime, "/proc")
	if d.Memory != nil || d.Maps != nil {
		t.Fatalf("denied: memory %v maps %v", d.Memory, d.Maps)
	}
	for _, th := range d.Threads {
		if th.Stack != nil || th.StackUnknown != "permission denied" {
			t.Errorf("thread %d: stack %+v unknown %q", th.TID, th.Stack, th.StackUnknown)
		}
	}
	var out bytes.Buffer
	if err := WriteShowText(&out, d, ShowTextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "memory    unavailable: /proc/1/smaps_rollup: permission denied") {
		t.Errorf("text:\n%s", out.String())
	}
}
