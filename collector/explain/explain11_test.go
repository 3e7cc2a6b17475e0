package explain

import (
	"testing"
)

// hideWaits drops what every thread sample says it waits in (wchan and
// syscall), as an unprivileged reader sees them, and the machine's I/O
// pressure.
func hideWaits(s *Sample) {
	for i := range s.Burst {
		for j := range s.Burst[i].Tasks {
			s.Burst[i].Tasks[j].HasWChan, s.Burst[i].Tasks[j].HasSyscall = false, false
		}
	}
	s.First.Host.Pressure.IO, s.Last.Host.Pressure.IO = nil, nil
}

// TestDiskBoundNeedsEnoughStorage (review3 S1): with the D samples' waits
// hidden, storage bytes decide only when there are enough of them to
// explain the threads in D (storageBPSPerD per thread in D): the 16-thread
// fdatasync pool's 1.4 GiB/s is disk-bound, the same D states with 4 KiB/s
// written (a log) are an uninterruptible wait.
func TestDiskBoundNeedsEnoughStorage(t *testing.T) {
	s := loadSample(t, "diskpool16")
	hideWaits(s)
	if a := analyse(s); a.dKnown != 0 || a.avgD < diskBoundD {
		t.Fatalf("the sample does not stage it: %d D samples known, %.1f in D", a.dKnown, a.avgD)
	}
	if get(Explain(s), "disk_bound") == nil {
		t.Errorf("the disk pool's own storage writes no longer decide: %v", ids(Explain(s)))
	}
	little := loadSample(t, "diskpool16")
	hideWaits(little)
	secs := (little.Last.At - little.First.At).Seconds()
	little.First.IO.ReadBytes, little.Last.IO.ReadBytes = 0, 0
	little.Last.IO.WriteBytes = little.First.IO.WriteBytes + uint64(4096*secs)
	fs := Explain(little)
	if get(fs, "disk_bound") != nil || get(fs, "uninterruptible_wait") == nil {
		t.Errorf("4 KiB/s of storage writes explain %.1f threads in D: %v", analyse(little).avgD, ids(fs))
	}
}
