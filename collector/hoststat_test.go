package collector

import (
	"context"
	"os"
	"strings"
	"testing"
)

const statSample = `cpu  382127 443721 460573 96799 1015 0 4204 1191 0 0
cpu0 195127 218467 229740 50110 254 0 471 591 0 0
cpu1 186999 225254 230832 46688 761 0 3732 600 0 0
intr 45789108 0 0 0
ctxt 160533052
btime 1765001950
processes 1692039
procs_running 7
procs_blocked 1
softirq 1 2 3
`

func TestParseHostStat(t *testing.T) {
	var h Host
	if err := parseHostStat([]byte(statSample), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.PerCPU) != 2 || h.PerCPU[0].CPU != 0 || h.PerCPU[1].CPU != 1 {
		t.Fatalf("per-CPU lines: %+v", h.PerCPU)
	}
	if c := h.PerCPU[1]; c.User != 186999 || c.Nice != 225254 || c.System != 230832 || c.Idle != 46688 ||
		c.IOWait != 761 || c.IRQ != 0 || c.SoftIRQ != 3732 || c.Steal != 600 {
		t.Errorf("cpu1 = %+v", c)
	}
	wantTotal := uint64(382127 + 443721 + 460573 + 96799 + 1015 + 0 + 4204 + 1191)
	if h.CPUTicks != wantTotal || h.CPUIdleTicks != 96799+1015 || h.CPUTotal.CPU != -1 {
		t.Errorf("totals %d/%d, want %d/%d", h.CPUTicks, h.CPUIdleTicks, wantTotal, 96799+1015)
	}
	if h.ContextSwitches != 160533052 || h.ProcessesCreated != 1692039 || h.ProcsRunning != 7 || h.ProcsBlocked != 1 {
		t.Errorf("counters: %+v", h)
	}
	// An old kernel's four columns are enough; fewer, or garbage, are not.
	if err := parseHostStat([]byte("cpu 1 2 3 4\ncpu0 1 2 3 4\n"), &h); err != nil || h.CPUTicks != 10 {
		t.Errorf("four columns: %v, total %d", err, h.CPUTicks)
	}
	for _, bad := range []string{"", "ctxt 5\n", "cpu 1 2 3\n", "cpu 1 x 3 4\n", "cpu 1 2 3 4\ncpuZ 1 2 3 4\n"} {
		if err := parseHostStat([]byte(bad), &h); err == nil {
			t.Errorf("parseHostStat(%q) accepted", bad)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	var h Host
	in := "MemTotal:       24683784 kB\nMemFree:        20000000 kB\nMemAvailable:   23418728 kB\nBuffers:          123 kB\n" +
		"Cached:          4000 kB\nSwapCached:  0 kB\nShmem:  10 kB\nSReclaimable: 20 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nHugePages_Total: 0\n"
	if err := parseMeminfo([]byte(in), &h); err != nil {
		t.Fatal(err)
	}
	if h.MemTotalBytes != 24683784*1024 || h.MemAvailBytes != 23418728*1024 || h.MemBuffersBytes != 123*1024 ||
		h.MemCachedBytes != 4000*1024 || h.MemShmemBytes != 10*1024 || h.MemSReclaimableBytes != 20*1024 {
		t.Errorf("memory: %+v", h)
	}
	if !h.HasSwap || h.SwapTotalBytes != 0 || !h.HasMemAvail || !h.HasMemDetail {
		t.Errorf("swap present with 0 bytes, avail and detail known: %+v", h)
	}
	// No swap lines at all: swap unknown, not 0.
	h = Host{}
	if err := parseMeminfo([]byte("MemTotal: 100 kB\n"), &h); err != nil || h.HasSwap || h.HasMemAvail || h.HasMemDetail {
		t.Errorf("only MemTotal: err %v, %+v", err, h)
	}
	for _, bad := range []string{"", "MemFree: 1 kB\n", "MemTotal: x kB\n", "MemTotal:\n"} {
		if err := parseMeminfo([]byte(bad), &Host{}); err == nil {
			t.Errorf("parseMeminfo(%q) accepted", bad)
		}
	}
}

func TestParseLoadavgAndUptime(t *testing.T) {
	var h Host
	if err := parseLoadavg([]byte("0.52 0.40 0.33 3/456 12345\n"), &h); err != nil || h.Load1 != 0.52 || h.Load15 != 0.33 {
		t.Errorf("loadavg: %v %+v", err, h)
	}
	for _, bad := range []string{"", "1 2", "a b c", "NaN 1 1", "-1 0 0"} {
		if err := parseLoadavg([]byte(bad), &h); err == nil {
			t.Errorf("parseLoadavg(%q) accepted", bad)
		}
	}
	if up, err := parseUptime([]byte("7029.86 13000.1\n")); err != nil || up != 7029.86 {
		t.Errorf("uptime %v %v", up, err)
	}
	if _, err := parseUptime([]byte("")); err == nil {
		t.Error("empty uptime accepted")
	}
}

// TestHostMetersLive reads this machine's host files through a scan and
// holds them to /proc: one line per online CPU, swap and PSI known.
func TestHostMetersLive(t *testing.T) {
	r, err := NewReader(Options{Backend: BackendProc})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := snap.Host
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && !strings.HasPrefix(l, "cpu ") {
			n++
		}
	}
	if len(h.PerCPU) != n {
		t.Errorf("%d per-CPU lines, /proc/stat has %d", len(h.PerCPU), n)
	}
	if h.CPUTicks == 0 || h.CPUTicks < h.CPUIdleTicks || h.MemTotalBytes == 0 || !h.HasSwap {
		t.Errorf("host: %+v", h)
	}
	if h.Pressure == nil {
		t.Fatal("no pressure read")
	}
	if _, err := os.Stat("/proc/pressure/cpu"); err == nil && h.Pressure.CPU == nil {
		t.Errorf("/proc/pressure/cpu exists but was not read: %v", h.Pressure.Unavailable)
	}
	if _, ok := h.Unavailable["stat"]; ok {
		t.Errorf("stat unavailable: %v", h.Unavailable)
	}
}

// TestHostMetersFixture: a fixture tree without pressure files names
// them unavailable instead of reporting zero stall.
func TestHostMetersFixture(t *testing.T) {
	r, err := NewReader(Options{Root: "../fixtures/proc/zombie"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := snap.Host.Pressure
	if p == nil || p.CPU != nil || p.Unavailable["cpu"] == "" {
		t.Errorf("fixture pressure: %+v", p)
	}
	if len(snap.Host.PerCPU) == 0 {
		t.Errorf("fixture /proc/stat per-CPU lines not read: %+v", snap.Host)
	}
}

func FuzzParseHostFiles(f *testing.F) {
	f.Add([]byte(statSample))
	f.Add([]byte("MemTotal: 1 kB\nSwapTotal: 2 kB\nSwapFree: 1 kB\n"))
	f.Add([]byte("cpu 1 2 3 4 5 6 7 8 9 10 11\ncpu99999999999 1 2 3 4\n"))
	f.Add([]byte("0.1 0.2 0.3 1/2 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Host
		if err := parseHostStat(b, &h); err == nil {
			if h.CPUTicks < h.CPUIdleTicks {
				t.Errorf("idle %d above total %d", h.CPUIdleTicks, h.CPUTicks)
			}
			for _, c := range h.PerCPU {
				if c.CPU < 0 {
					t.Errorf("per-CPU line with number %d", c.CPU)
				}
			}
		}
		_ = parseMeminfo(b, &h)
		_ = parseLoadavg(b, &h)
		_, _ = parseUptime(b)
	})
}
