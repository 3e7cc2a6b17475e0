package schema

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/schema/*.schema.json from the types")

const schemaDir = "../../docs/schema"

// commentDirs are the packages whose doc comments describe the fields.
var commentDirs = map[string]string{
	"github.com/pinspect/pinspect/views/report":  "../report",
	"github.com/pinspect/pinspect/views/metrics": "../metrics",
}

// TestSchemaFiles: docs/schema holds exactly the schema of every
// document, as the types generate it (with -update, it is rewritten).
func TestSchemaFiles(t *testing.T) {
	want := map[string]bool{}
	for _, d := range Documents {
		name := d.Name + ".schema.json"
		want[name] = true
		got, err := Generate(d, false, commentDirs)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(schemaDir, name)
		if *update {
			if err := os.MkdirAll(schemaDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(old, got) {
			t.Errorf("%s is not the schema of %T (go test ./views/schema -update rewrites it)", path, d.Type)
		}
	}
	files, err := filepath.Glob(filepath.Join(schemaDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s describes no document in schema.Documents", f)
		}
	}
	if _, err := NewValidator(schemaDir); err != nil {
		t.Fatal(err)
	}
}

// TestGoldensValidate: every golden JSON document of the repository is
// valid under its strict schema, and each is recognised.
func TestGoldensValidate(t *testing.T) {
	v, err := NewValidator(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, pattern := range []string{"../../fixtures/golden/*.json", "../report/testdata/*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	seen := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Validate(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		seen[id]++
	}
	t.Logf("validated %d golden documents: %v", len(files), seen)
	for _, id := range []string{"pinspect.snapshot/v1", "pinspect.show/v1", "pinspect.zombies/v1", "pinspect.orphans/v1"} {
		if seen[id] == 0 {
			t.Errorf("no golden %s document was validated", id)
		}
	}
}

// TestStrictSchemasRefuse: the validator is not vacuous. A field the type
// does not declare, a missing required field, a null where an array is
// due, a wrong type, a time jq cannot read and an impossible exit status
// are each refused.
func TestStrictSchemasRefuse(t *testing.T) {
	v, err := NewValidator(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile("../../fixtures/golden/zombie.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to string }{
		{"undeclared field", `"proc_root":`, `"surprise": 1, "proc_root":`},
		{"missing required", `"taken_at": "2026-11-22T12:00:00Z",`, ``},
		{"null array", `"processes": [`, `"processes": null, "x": [`},
		{"wrong type", `"scan_duration_seconds": 0`, `"scan_duration_seconds": "0"`},
		{"not a date-time", `"taken_at": "2026-11-22T12:00:00Z"`, `"taken_at": "yesterday"`},
		{"wrong schema version", `"schema": "pinspect.snapshot/v1"`, `"schema": "pinspect.snapshot/v2"`},
		{"exit code with a signal", `"exited": true`, `"exited": true, "signal": 9`},
	} {
		bad := strings.Replace(string(good), c.from, c.to, 1)
		if bad == string(good) {
			t.Fatalf("%s: %q not in the golden", c.name, c.from)
		}
		if _, err := v.Validate([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", c.name)
		} else if c.name == "wrong schema version" && !errors.Is(err, ErrUnknownSchema) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// NDJSON: every line is checked.
	ev := `{"schema":"pinspect.event/v1","type":"exit","time":"2026-11-22T12:00:00.5Z","pid":42,"source":"kernel","exit":{"exited":true,"code":3}}`
	if n, err := v.ValidateLines([]byte(ev + "\n" + ev + "\n")); n != 2 || err != nil {
		t.Errorf("two good events: %d, %v", n, err)
	}
	if _, err := v.ValidateLines([]byte(ev + "\n" + strings.Replace(ev, `"pid":42`, `"pid":"42"`, 1) + "\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a bad second event: %v", err)
	}
}

// schemaID is a document's schema name as the views spell it in Go.
var schemaID = regexp.MustCompile(`"(pinspect\.[a-z_.]+/v[0-9]+)"`)

// TestDocumentsComplete: every document names a unique file and schema,
// and every schema name the views write (a "pinspect.NAME/vN" string in
// their code) is a document here, so a new document cannot ship without
// its schema file.
func TestDocumentsComplete(t *testing.T) {
	written := map[string]string{}
	for _, dir := range []string{"../report", "../metrics"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range schemaID.FindAllSubmatch(src, -1) {
				written[string(m[1])] = f
			}
		}
	}
	if len(written) < len(Documents) {
		t.Fatalf("found %d schema names in the views, fewer than the %d documents: %v", len(written), len(Documents), written)
	}
	for id, f := range written {
		if !slices.ContainsFunc(Documents, func(d Document) bool { return d.ID == id }) {
			t.Errorf("%s writes %s, which is not in schema.Documents (add it and run -update)", f, id)
		}
	}
	var names, ids []string
	for _, d := range Documents {
		if slices.Contains(names, d.Name) || slices.Contains(ids, d.ID) {
			t.Errorf("%s (%s) twice", d.Name, d.ID)
		}
		names, ids = append(names, d.Name), append(ids, d.ID)
		if !strings.HasPrefix(d.ID, "pinspect.") || !strings.Contains(d.ID, "/v") {
			t.Errorf("%s: schema id %q is not pinspect.NAME/vN", d.Name, d.ID)
		}
	}
}
