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
	descName = regexp.MustCompile(`fqName: "([a-z_:]+)"`)
	// metricName finds pinspect metric names; a recording rule's name
	// (level:pinspect_...:operation) is not one (it starts after a ':').
	metricName = regexp.MustCompile(`(^|[^:a-z_])(pinspect_[a-z_]+)`)
	// selectors are PromQL vector selectors: a metric name and its braces.
	selector = regexp.MustCompile(`\b([a-z_:]+)\{([^}]*)\}`)
	rangeFn  = regexp.MustCompile(`\b(rate|increase|irate|delta|deriv)\(`)
)

// metricNames returns the pinspect metric names in s.
func metricNames(s string) []string {
	var out []string
	for _, m := range metricName.FindAllStringSubmatch(s, -1) {
		out = append(out, m[2])
	}
	return out
}

// exportedNames returns the names of every metric the collector can emit.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	d := newDescs(true, true)
	names := map[string]bool{}
	for _, desc := range d.all() {
		m := descName.FindStringSubmatch(desc.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", desc)
		}
		names[m[1]] = true
	}
	// The server's own metrics (servestats.go) and pinspect_build_info,
	// which has its own collector (buildinfo.go).
	ch := make(chan *prometheus.Desc, 16)
	newServeCollector(&Server{}).Describe(ch)
	NewBuildInfoCollector(BuildInfo{Version: "x"}).Describe(ch)
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
	for _, n := range metricNames(string(doc)) {
		if !names[n] {
			t.Errorf("docs/METRICS.md names %s, which is not exported", n)
		}
	}
	rules, err := os.ReadFile("../../docs/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range metricNames(string(rules)) {
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
			for _, n := range metricNames(tg.Expr) {
				if !names[n] {
					t.Errorf("dashboard panel %q uses %s, which is not exported", p.Title, n)
				}
			}
			checkDashboardQuery(t, p.Title, tg.Expr)
		}
	}
	if exprs < 10 {
		t.Errorf("dashboard has %d queries", exprs)
	}
	for n := range names {
		if strings.HasSuffix(n, "_per_second") {
			t.Errorf("%s is a pre-computed rate: export the counter, rate() it in PromQL", n)
		}
	}
}

// checkDashboardQuery holds a panel query to the dashboard's conventions:
// every selector is restricted to the chosen $job (and $instance), and
// every rate-like function's range is Grafana's $__rate_interval (which
// follows the scrape interval) rather than a fixed window.
func checkDashboardQuery(t *testing.T, panel, expr string) {
	t.Helper()
	sels := selector.FindAllStringSubmatch(expr, -1)
	if len(sels) == 0 {
		t.Errorf("panel %q: no selector with labels in %q", panel, expr)
	}
	for _, m := range sels {
		if !strings.Contains(m[2], `job=~"$job"`) || !strings.Contains(m[2], `instance=~"$instance"`) {
			t.Errorf("panel %q: %s{%s} is not restricted to $job and $instance", panel, m[1], m[2])
		}
	}
	if n, r := len(rangeFn.FindAllString(expr, -1)), strings.Count(expr, "[$__rate_interval]"); n != r || strings.Contains(expr, "[5m]") {
		t.Errorf("panel %q: %d rate-like functions and %d $__rate_interval ranges in %q", panel, n, r, expr)
	}
}
