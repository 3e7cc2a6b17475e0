package main

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/promcheck"
)

// checkDashboardQueries runs every query of the shipped Grafana dashboard
// against the Prometheus at promURL, which scrapes the agent at instance
// in job "pinspect" every second, as Grafana would with that job and
// instance chosen and every group; each must return data. A query whose
// rate needs two scrapes may come back empty at first: the check waits
// (a minute at most) until every query has answered with data once.
func checkDashboardQueries(t *testing.T, promURL, instance string) {
	t.Helper()
	qs, err := promcheck.DashboardQueries("../../docs/prometheus/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	pending := map[int]string{}
	for i := range qs {
		pending[i] = ""
	}
	// As Grafana writes a chosen value into a PromQL string: the regular
	// expression's backslashes doubled.
	inst := strings.ReplaceAll(regexp.QuoteMeta(instance), `\`, `\\`)
	// $__rate_interval is at least four scrape intervals: 4 s here; 15 s
	// leaves room for a loaded machine's late scrapes.
	for deadline := time.Now().Add(time.Minute); len(pending) > 0; time.Sleep(time.Second) {
		for i := range pending {
			q := promcheck.Substitute(qs[i].Expr, "pinspect", inst, ".*", "15s")
			res, err := promQuery(promURL, q)
			switch {
			case err != nil:
				pending[i] = err.Error()
			case len(res) == 0:
				pending[i] = "no data"
			default:
				delete(pending, i)
			}
		}
		if time.Now().After(deadline) {
			var lines []string
			for i, why := range pending {
				lines = append(lines, "  "+qs[i].Panel+" ("+qs[i].RefID+"): "+why+": "+qs[i].Expr)
			}
			sort.Strings(lines)
			t.Errorf("%d of %d dashboard queries returned no data within a minute:\n%s", len(lines), len(qs), strings.Join(lines, "\n"))
			return
		}
	}
	t.Logf("all %d dashboard queries returned data", len(qs))
	// No series but the per-parent zombie ones carries a pid by default.
	res, err := promQuery(promURL, `count by (__name__) ({__name__=~"pinspect_.+",pid!=""})`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res {
		if n := s.Metric["__name__"]; !strings.HasPrefix(n, "pinspect_zombie_parent_") {
			t.Errorf("%s has pid-labelled series without per_process", n)
		}
	}
}
