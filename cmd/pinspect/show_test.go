package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestShowCommand(t *testing.T) {
	root := "../../fixtures/proc/maps-threads"
	var out, errb bytes.Buffer
	if code := run([]string{"show", "--proc-root", root, "26271"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Threads (5)", "thread_stack", "Address space:", "heap ↑"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	out.Reset()
	if code := run([]string{"show", "--proc-root", root, "--json", "--smaps=false", "26271"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Schema     string            `json:"schema"`
		Maps       []json.RawMessage `json:"maps"`
		PerMapping bool              `json:"per_mapping_memory"`
		Memory     *struct {
			RSS uint64 `json:"rss_bytes"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "pinspect.show/v1" || len(doc.Maps) == 0 || doc.PerMapping || doc.Memory == nil || doc.Memory.RSS == 0 {
		t.Errorf("json: %+v", doc)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"show", "--proc-root", root, "abc"}, exitUsage},
		{[]string{"show", "--proc-root", root}, exitUsage},
		{[]string{"show", "--proc-root", root, "4242"}, exitNoMatch},
	} {
		errb.Reset()
		if code := run(c.args, &out, &errb); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, errb.String())
		}
	}
}

// TestShowWithoutMapsFile: a fixture process with no maps file is shown
// with its memory unavailable ("not present"), not as a process that
// exited while it was read.
func TestShowWithoutMapsFile(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"show", "--proc-root", "../../fixtures/proc/multithread", "100"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "memory    unavailable: ../../fixtures/proc/multithread/100/smaps: not present") || !strings.Contains(out.String(), "Threads (3)") {
		t.Errorf("show output:\n%s", out.String())
	}
}
