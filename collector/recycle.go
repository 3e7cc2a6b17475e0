package collector

import (
	"reflect"
	"runtime"
)

// A dashboard's refresh at 2,000 processes writes a new snapshot's
// processes, 1.8 MB, into a new array; the snapshot two refreshes back is
// then garbage, and the collection after the refresh gives its pages back
// to the kernel (to keep the peak RSS low), so every page of the next
// array is faulted in again: about a twentieth of the dashboard's CPU
// (docs/PERFORMANCE.md, dash6). Frames are kept by any of their
// subscribers for as long as they like (a paused screen, a detail view),
// so no one can say when an array is free to be written again, except
// the garbage collector. With Options.RecycleProcesses a task-iterator
// scan's array carries a finalizer: when the collector finds that nothing
// holds the array (no snapshot, no slice of it, no pointer to one of its
// processes), it runs the finalizer instead of freeing it, which clears
// the array and keeps it for the Reader's next scan. The array is then
// in use when the pages are given back, and the next scan writes into
// pages already there. Nothing but the Reader can reach it from then on:
// it was unreachable when the finalizer ran. A snapshot whose processes
// did not stay in their array (grown past it) sets no finalizer, and a
// recycled array too small for the next scan is left to be freed.
//
// The finalizer is set one scan late: the Reader holds the newest array
// (pending) until its next scan begins, and sets the finalizer then. An
// object with a finalizer is scanned by every collection as a root (what
// it points to must stay for the finalizer) and again when it is
// reached, so a finalizer set at once had each collection scan the live
// snapshot's 2 MB array twice at 2,000 processes; the newest array is
// live until the next scan anyway (the dashboard shows it, the monitor
// keeps it for the deltas), and set late it is scanned once
// (docs/PERFORMANCE.md, dash8).

// processArray is an array of processes made by processArray: a pointer
// to an array type made with reflect, which the finalizer is set on (an
// object made by new, as runtime.SetFinalizer asks), and its elements as
// a slice.
type processArray struct {
	ptr   any // *[n]Process
	procs []Process
}

// processArrayStep rounds the length of the arrays made up: reflect
// keeps every array type it makes, so their lengths are a few steps
// apart, not one for every count of processes seen.
const processArrayStep = 256

var processType = reflect.TypeFor[Process]()

// processArray returns an empty slice of at least want processes for a
// task-iterator scan: without RecycleProcesses a new one (arr nil);
// with it, the recycled array when one is ready and large enough, else a
// new array (arr says which, for recycleWhenFree).
func (r *Reader) processArray(want int) (*processArray, []Process) {
	if !r.opts.RecycleProcesses {
		return nil, make([]Process, 0, want)
	}
	if p := r.pending.Swap(nil); p != nil {
		r.setRecycleFinalizer(p)
	}
	if a := r.recycled.Swap(nil); a != nil && len(a.procs) >= want {
		return a, a.procs[:0]
	}
	n := (want + processArrayStep - 1) / processArrayStep * processArrayStep
	v := reflect.New(reflect.ArrayOf(n, processType))
	a := &processArray{ptr: v.Interface(), procs: v.Elem().Slice(0, n).Interface().([]Process)}
	return a, a.procs[:0]
}

// recycleWhenFree has the finalizer that recycles arr set at the
// Reader's next scan (pending), if procs, the snapshot's processes, are
// still in it (from its start); else arr is left to be freed.
func (r *Reader) recycleWhenFree(arr *processArray, procs []Process) {
	if arr == nil || cap(procs) == 0 || &procs[:1][0] != &arr.procs[0] {
		return
	}
	if old := r.pending.Swap(arr); old != nil {
		r.setRecycleFinalizer(old) // not reached: each scan takes pending first
	}
}

// setRecycleFinalizer sets the finalizer that recycles arr when the
// collector finds it unreachable.
func (r *Reader) setRecycleFinalizer(arr *processArray) {
	ptr, n := arr.ptr, len(arr.procs)
	// The finalizer holds the Reader, not arr: arr's slice would make
	// the array reachable from its own finalizer, which would never run.
	runtime.SetFinalizer(ptr, func(p any) {
		if r.closed.Load() {
			return
		}
		procs := reflect.ValueOf(p).Elem().Slice(0, n).Interface().([]Process)
		clear(procs) // the strings and slices it held are free to go
		r.recycled.Store(&processArray{ptr: p, procs: procs})
	})
}
