package dashboard

import (
	"strings"
	"testing"

	"github.com/pinspect/pinspect/collector"
)

// TestFilterSpansArguments: the filter matches the command line as shown,
// so "threads 5" finds `./procshape threads 5`.
func TestFilterSpansArguments(t *testing.T) {
	p := &collector.Process{PID: 4242, ProcStat: collector.ProcStat{Comm: "procshape", State: 'S'},
		ProcCmdline: collector.ProcCmdline{Cmdline: []string{"./procshape", "threads", "5"}}}
	for filter, want := range map[string]bool{
		"threads 5": true, "THREADS": true, "procshape threads": true, "4242": true,
		"threads 6": false, "shape  threads": false,
	} {
		if got := (&viewOpts{filter: strings.ToLower(filter)}).matches(p); got != want {
			t.Errorf("filter %q: matches = %v, want %v", filter, got, want)
		}
	}
}
