package metrics

import (
	"net/http"
	"sync"
	"testing"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/monitor"
)

// demandSource reads threads, and with them the signal dispositions, on
// demand, as serve's monitor does (monitor.Options.ThreadDemand): the
// first WantThreads publishes the whole frame.
type demandSource struct {
	*frameSource
	whole *monitor.Frame
	once  sync.Once
}

func (d *demandSource) WantThreads() bool {
	d.once.Do(func() { d.publish(d.whole) })
	return true
}

// dispFrame is a frame of one process whose status was read; with
// absent, its walk left the dispositions out.
func dispFrame(seq uint64, absent bool, threads bool) *monitor.Frame {
	p := collector.Process{PID: 4242, Read: collector.SrcStat | collector.SrcStatus, ProcStat: collector.ProcStat{Comm: "x", State: 'S', NumThreads: 1}}
	if absent {
		p.SigDispAbsent = true
	} else {
		p.SigIgn, p.SigCgt = 1<<11, 1
	}
	return &monitor.Frame{Seq: seq, Snapshot: &collector.Snapshot{Processes: []collector.Process{p}, ThreadsRead: threads}}
}

// TestSnapshotNeverShowsAbsentDispositions: the snapshot document is never
// made from a frame whose walk left the signal dispositions out (they
// would read as none): without threads too, it waits for the frame the
// source scans whole for it; from a source that scans none, it answers
// 503.
func TestSnapshotNeverShowsAbsentDispositions(t *testing.T) {
	src := &demandSource{frameSource: newFrameSource(), whole: dispFrame(2, false, true)}
	src.publish(dispFrame(1, true, false))
	_, hs := startServer(t, src, ServerOptions{})
	var doc struct {
		Processes []struct {
			PID     int `json:"pid"`
			Signals struct {
				Ignored string `json:"ignored"`
				Caught  string `json:"caught"`
			} `json:"signals"`
		} `json:"processes"`
	}
	getJSON(t, hs.URL+PathSnapshot+"?threads=false", http.StatusOK, &doc)
	if len(doc.Processes) != 1 || doc.Processes[0].Signals.Ignored != "0000000000000800" || doc.Processes[0].Signals.Caught != "0000000000000001" {
		t.Errorf("snapshot without threads: %+v; want the whole frame's process, SIGUSR2 ignored and SIGHUP caught", doc.Processes)
	}

	plain := newFrameSource()
	plain.publish(dispFrame(1, true, false))
	_, hs2 := startServer(t, plain, ServerOptions{})
	resp, err := http.Get(hs2.URL + PathSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a frame without dispositions from a source that never reads them: %s, want 503", resp.Status)
	}
}
