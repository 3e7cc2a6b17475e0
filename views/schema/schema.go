// Package schema holds the JSON Schema of every document pinspect writes,
// generated from the Go types that encode them, and checks documents
// against them. The schema files are docs/schema/<name>.schema.json
// (docs/SCHEMA.md describes each document); `go test ./views/schema
// -update` writes them and the tests fail when they and the types differ.
//
// Adding a document is one line in Documents, then -update. The package
// is used by tests and by nothing the pinspect binary runs: it imports
// the views whose documents it describes, and no view imports it.
package schema

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
	tekuri "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pinspect/pinspect/views/metrics"
	"github.com/pinspect/pinspect/views/report"
)

// Document is one kind of JSON document pinspect writes.
type Document struct {
	// Name names the schema file: docs/schema/<Name>.schema.json.
	Name string
	// ID is the value of the document's "schema" field
	// (pinspect.snapshot/v1), which is how a reader, and Validate, tell
	// documents apart.
	ID string
	// Type is a value of the Go type that is encoded.
	Type any
	// Where says which command or endpoint writes it (for the schema's
	// description).
	Where string
}

// Documents are every document pinspect writes. A new document is one
// line here (its type must have a "schema" field holding ID); then run
// go test ./views/schema -update and describe it in docs/SCHEMA.md.
var Documents = []Document{
	{"snapshot", report.SnapshotSchema, report.SnapshotDoc{}, "pinspect --json; GET /api/v1/snapshot"},
	{"ps", report.PSSchema, report.PSDoc{}, "pinspect ps --json (-o json)"},
	{"show", report.ShowSchema, report.ShowDoc{}, "pinspect show PID --json; GET /api/v1/processes/{pid}"},
	{"explain", report.ExplainSchema, report.ExplainDoc{}, "pinspect explain [PID] --json; GET /api/v1/explain/{pid}"},
	{"zombies", report.ZombiesSchema, report.ZombiesDoc{}, "pinspect zombies --json; GET /api/v1/zombies"},
	{"orphans", report.OrphansSchema, report.OrphansDoc{}, "pinspect orphans --json; GET /api/v1/orphans"},
	{"event", report.EventSchema, report.EventDoc{}, "one line of pinspect watch --json, pinspect events --json and pinspect dump event; GET /api/v1/events"},
	{"restarts", report.RestartsSchema, report.RestartsDoc{}, "pinspect events --restarts --name NAME --json"},
	{"process_entry", metrics.ProcessEntrySchema, metrics.ProcessEntryDoc{}, "GET /api/v1/processes/{pid} of an agent without the show reader"},
	{"dump.process", report.DumpProcessSchema, report.DumpProcessRow{}, "a process line of pinspect dump (docs/RECORD.md)"},
	{"dump.thread", report.DumpThreadSchema, report.DumpThreadRow{}, "a thread line of pinspect dump thread"},
	{"dump.system", report.DumpSystemSchema, report.DumpSystemRow{}, "a line of pinspect dump system"},
}

// timeFields are the string fields that hold an RFC 3339 time; so does
// every field whose name ends in "_at".
var timeFields = map[string]bool{"time": true, "boot_time": true, "first_seen": true, "since": true}

// Generate returns the schema of d, indented, with a final newline. A
// strict schema also refuses properties it does not name (the tests use
// it to catch a field added without regenerating the schema); the
// published files are not strict, because a version only ever adds
// fields and an older schema must keep accepting newer documents.
// commentDirs maps Go package paths to their source directories, whose
// doc comments become descriptions (nil for none).
func Generate(d Document, strict bool, commentDirs map[string]string) ([]byte, error) {
	r := &jsonschema.Reflector{
		AllowAdditionalProperties: !strict,
		Mapper:                    mapType,
		Anonymous:                 true,
	}
	for pkg, dir := range commentDirs {
		if err := r.AddGoComments(pkg, dir); err != nil {
			return nil, fmt.Errorf("comments of %s: %w", pkg, err)
		}
	}
	s := r.Reflect(d.Type)
	s.ID = jsonschema.ID("urn:pinspect:schema:" + d.Name)
	s.Title = d.ID
	s.Description = "The " + d.ID + " document: " + d.Where + ". Generated from the Go type " +
		reflect.TypeOf(d.Type).String() + " (views/schema); fields are described in docs/SCHEMA.md."
	root := s
	if s.Ref != "" {
		root = s.Definitions[strings.TrimPrefix(s.Ref, "#/$defs/")]
	}
	if root == nil || root.Properties == nil {
		return nil, fmt.Errorf("%s: %T is not an object", d.Name, d.Type)
	}
	sch, ok := root.Properties.Get("schema")
	if !ok {
		return nil, fmt.Errorf("%s: %T has no \"schema\" field", d.Name, d.Type)
	}
	sch.Const = d.ID
	annotate(s)
	for _, def := range s.Definitions {
		annotate(def)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// annotate marks time fields with format date-time, in s and below.
func annotate(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if s.Properties != nil {
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			if p.Value.Type == "string" && (timeFields[p.Key] || strings.HasSuffix(p.Key, "_at")) {
				p.Value.Format = "date-time"
			}
			annotate(p.Value)
		}
	}
	annotate(s.Items)
	annotate(s.AdditionalProperties)
}

// textMarshaler is the interface of values encoding/json writes as a
// string (explain's severities).
var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// mapType gives the schema of the types whose JSON is not their fields:
// a value that marshals itself as text is a string, and an exit status is
// {"exited":true,"code":N} or {"exited":false,"signal":N,"signal_name":S,"core_dumped":B}
// (report.ExitStatusDoc.MarshalJSON).
func mapType(t reflect.Type) *jsonschema.Schema {
	if t.Implements(textMarshaler) && !t.Implements(reflect.TypeFor[json.Marshaler]()) {
		return &jsonschema.Schema{Type: "string"}
	}
	if t != reflect.TypeOf(report.ExitStatusDoc{}) {
		return nil
	}
	exited := jsonschema.NewProperties()
	exited.Set("exited", &jsonschema.Schema{Const: true})
	exited.Set("code", &jsonschema.Schema{Type: "integer", Minimum: "0", Maximum: "255"})
	signaled := jsonschema.NewProperties()
	signaled.Set("exited", &jsonschema.Schema{Const: false})
	signaled.Set("signal", &jsonschema.Schema{Type: "integer", Minimum: "1", Maximum: "127"})
	signaled.Set("signal_name", &jsonschema.Schema{Type: "string", Description: "the signal's name: SIGSEGV, SIGRTMIN+3"})
	signaled.Set("core_dumped", &jsonschema.Schema{Type: "boolean"})
	no := jsonschema.FalseSchema
	return &jsonschema.Schema{
		Description: "a decoded wait status: the exit code of a process that exited, or the signal that killed it",
		OneOf: []*jsonschema.Schema{
			{Type: "object", Properties: exited, Required: []string{"exited", "code"}, AdditionalProperties: no},
			{Type: "object", Properties: signaled, Required: []string{"exited", "signal", "signal_name", "core_dumped"}, AdditionalProperties: no},
		},
	}
}

// Validator checks documents against their schemas.
type Validator struct {
	byID map[string]*tekuri.Schema
}

// NewValidator compiles the schema of every document in Documents:
// strict ones generated from the types (so a document with a field its
// type does not declare fails), and it checks that each published file
// in dir (docs/schema) is the same schema in its lenient form.
func NewValidator(dir string) (*Validator, error) {
	c := tekuri.NewCompiler()
	c.AssertFormat()
	v := &Validator{byID: map[string]*tekuri.Schema{}}
	for _, d := range Documents {
		published, err := os.ReadFile(filepath.Join(dir, d.Name+".schema.json"))
		if err != nil {
			return nil, fmt.Errorf("%w (go test ./views/schema -update writes it)", err)
		}
		lenient, err := Generate(d, false, nil)
		if err != nil {
			return nil, err
		}
		if !sameIgnoringDescriptions(published, lenient) {
			return nil, fmt.Errorf("%s/%s.schema.json is not the schema of %T (go test ./views/schema -update)", dir, d.Name, d.Type)
		}
		strict, err := Generate(d, true, nil)
		if err != nil {
			return nil, err
		}
		doc, err := tekuri.UnmarshalJSON(bytes.NewReader(strict))
		if err != nil {
			return nil, err
		}
		url := "urn:pinspect:schema:" + d.Name
		if err := c.AddResource(url, doc); err != nil {
			return nil, err
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		v.byID[d.ID] = s
	}
	return v, nil
}

// sameIgnoringDescriptions compares two schemas with their descriptions
// left out (the published files carry the Go doc comments).
func sameIgnoringDescriptions(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(dropDescriptions(x), dropDescriptions(y))
}

func dropDescriptions(v any) any {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "description")
		for k, x := range v {
			if k != "properties" {
				v[k] = dropDescriptions(x)
				continue
			}
			if props, ok := x.(map[string]any); ok {
				for name, p := range props {
					props[name] = dropDescriptions(p)
				}
			}
		}
	case []any:
		for i := range v {
			v[i] = dropDescriptions(v[i])
		}
	}
	return v
}

// ErrUnknownSchema is returned for a document whose "schema" field names
// no known document.
var ErrUnknownSchema = errors.New("unknown schema")

// Validate checks one JSON document against the schema its "schema"
// field names, and returns that name.
func (v *Validator) Validate(data []byte) (string, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	s := v.byID[head.Schema]
	if s == nil {
		return head.Schema, fmt.Errorf("%w %q", ErrUnknownSchema, head.Schema)
	}
	inst, err := tekuri.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return head.Schema, err
	}
	if err := s.Validate(inst); err != nil {
		return head.Schema, err
	}
	return head.Schema, nil
}

// ValidateLines checks every line of an NDJSON stream (watch --json,
// /api/v1/events); it returns how many documents it checked.
func (v *Validator) ValidateLines(data []byte) (int, error) {
	n := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if _, err := v.Validate(line); err != nil {
			return n, fmt.Errorf("line %d: %w", i+1, err)
		}
		n++
	}
	return n, nil
}
