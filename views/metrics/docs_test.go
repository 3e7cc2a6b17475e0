package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descName   = regexp.MustCompile(`fqName: "([a-z_:]+)"`)
	metricName = regexp.MustCompile(`\bpinspect_[a-z_]+`)
)

// exportedNames returns the names of every metric the collector can emit.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	d := newDescs(true)
	names := map[string]bool{}
	for _, desc := range d.all() {
		m := descName.FindStringSubmatch(desc.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", desc)
		}
		names[m[1]] = true
	}
	// The server's own metrics (servestats.go).
	ch := make(chan *prometheus.Desc, 16)
	newServeCollector(&Server{}).Describe(ch)
	close(ch)
	for desc := range ch {
		m := descName.FindStringSubmatch(desc.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", desc)
		}
		names[m[1]] = true
	}
	return names
}

// docs/METRICS.md lists every metric, and the shipped rules and dashboard
// use only metrics that exist.
func TestDocsMatchMetrics(t *testing.T) {
	names := exportedNames(t)
	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	for n := range names {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/METRICS.md does not document %s", n)
		}
	}
	for _, n := range metricName.FindAllString(string(doc), -1) {
		if !names[n] {
			t.Errorf("docs/METRICS.md names %s, which is not exported", n)
		}
	}
	rules, err := os.ReadFile("../../docs/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range metricName.FindAllString(string(rules), -1) {
		if !names[n] {
			t.Errorf("docs/prometheus/rules.yml uses %s, which is not exported", n)
		}
	}
	raw, err := os.ReadFile("../../docs/prometheus/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				if !names[n] {
					t.Errorf("dashboard panel %q uses %s, which is not exported", p.Title, n)
				}
			}
		}
	}
	if exprs < 10 {
		t.Errorf("dashboard has %d queries", exprs)
	}
}
