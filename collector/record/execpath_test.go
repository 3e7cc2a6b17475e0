package record

import (
	"reflect"
	"testing"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// TestEventExecPathRoundTrip: an event's exec path (field 18) survives
// the record's wire format; an event written without one (as every
// event of an older recording) reads back with none.
func TestEventExecPathRoundTrip(t *testing.T) {
	at := time.Unix(1796640916, 0).UTC()
	with := lifecycle.Event{Type: lifecycle.Exec, Time: at, ID: collector.ID{PID: 42, StartTicks: 7}, Comm: "xpathxxxxxxxxxx", Source: lifecycle.SourceTracepoint,
		ExecPath: &lifecycle.ExecPath{Path: "./job.sh", Interp: "/bin/sh", InterpTruncated: true}}
	without := lifecycle.Event{Type: lifecycle.Exit, Time: at, ID: collector.ID{PID: 43, StartTicks: 8}, Comm: "sh", Source: lifecycle.SourceConnector}
	s := &Sample{Seq: 1, Snapshot: &collector.Snapshot{TakenAt: at}, Events: []lifecycle.Event{with, without}}
	got, err := UnmarshalSample(MarshalSample(nil, s))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 2 {
		t.Fatalf("%d events back, want 2", len(got.Events))
	}
	if ep := got.Events[0].ExecPath; ep == nil || !reflect.DeepEqual(*ep, *with.ExecPath) {
		t.Errorf("exec path back %+v, want %+v", ep, with.ExecPath)
	}
	if ep := got.Events[1].ExecPath; ep != nil {
		t.Errorf("an event without an exec path read back with %+v", ep)
	}
}
