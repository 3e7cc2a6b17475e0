package collector

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
	"github.com/shirou/gopsutil/v3/common"
	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/mem"
)

// staticHost holds the host facts read once per Reader.
type staticHost struct {
	hostname    string
	kernel      string
	bootTime    time.Time
	cpus        int
	memTotal    uint64
	unavailable map[string]string
}

// readStaticHost reads the facts that do not change while pinspect runs,
// with gopsutil pointed at root (so a fixture tree never reports this
// machine's facts). Hostname and kernel release come from
// root/sys/kernel, which every procfs has.
func readStaticHost(root string) staticHost {
	h := staticHost{unavailable: map[string]string{}}
	ctx := context.WithValue(context.Background(), common.EnvKey,
		common.EnvMap{common.HostProcEnvKey: root})
	if b, err := os.ReadFile(root + "/sys/kernel/hostname"); err == nil {
		h.hostname = strings.TrimSpace(string(b))
	} else {
		h.unavailable["hostname"] = hostReason(err)
	}
	if b, err := os.ReadFile(root + "/sys/kernel/osrelease"); err == nil {
		h.kernel = strings.TrimSpace(string(b))
	} else {
		h.unavailable["kernel"] = hostReason(err)
	}
	// Boot time: btime from /proc/stat is exact; gopsutil derives it from
	// uptime on some machines (it drifts by the read latency), so it is
	// only the fallback.
	if fs, err := procfs.NewFS(root); err == nil {
		if st, err := fs.Stat(); err == nil && st.BootTime > 0 {
			h.bootTime = time.Unix(int64(st.BootTime), 0).UTC()
		}
	}
	if h.bootTime.IsZero() {
		if bt, err := host.BootTimeWithContext(ctx); err == nil && bt > 0 {
			h.bootTime = time.Unix(int64(bt), 0).UTC()
		} else {
			h.unavailable["boot_time"] = "unreadable /proc/stat btime and /proc/uptime"
		}
	}
	if n, err := cpu.CountsWithContext(ctx, true); err == nil && n > 0 {
		h.cpus = n
	} else {
		h.unavailable["cpus"] = "unreadable /proc/cpuinfo"
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil && vm.Total > 0 {
		h.memTotal = vm.Total
	} else {
		h.unavailable["mem_total"] = "unreadable /proc/meminfo"
	}
	if v := procVisibility(root, os.Geteuid()); v != "" {
		h.unavailable[HostProcessesKey] = v
	}
	return h
}

// HostDelayAcctKey is the Host.Unavailable key of kernel.task_delayacct.
const HostDelayAcctKey = "task_delayacct"

// readDelayAcct reads kernel.task_delayacct (sys/kernel/task_delayacct
// under root): whether the kernel counts per-task delays (the block I/O
// delay of stat field 42). It can be turned on and off while pinspect
// runs, so it is read every snapshot (one small file).
func readDelayAcct(root string) (bool, error) {
	b, err := os.ReadFile(root + "/sys/kernel/task_delayacct")
	if err != nil {
		return false, err
	}
	switch strings.TrimSpace(string(b)) {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("task_delayacct: unexpected %q", clip(bytes.TrimSpace(b)))
}

// readHost reads the per-snapshot host facts with procfs: /proc/stat,
// loadavg, meminfo and uptime.
func (r *Reader) readHost() Host {
	h := Host{
		Hostname:      r.host.hostname,
		Kernel:        r.host.kernel,
		BootTime:      r.host.bootTime,
		CPUs:          r.host.cpus,
		MemTotalBytes: r.host.memTotal,
	}
	unavail := map[string]string{}
	for k, v := range r.host.unavailable {
		unavail[k] = v
	}
	fs, err := procfs.NewFS(r.opts.Root)
	if err == nil {
		if st, err := fs.Stat(); err == nil {
			h.ContextSwitches = st.ContextSwitches
			h.ProcessesCreated = st.ProcessCreated
			h.ProcsRunning = st.ProcessesRunning
			h.ProcsBlocked = st.ProcessesBlocked
			c := st.CPUTotal
			// procfs converts jiffies to seconds; convert back to ticks.
			tot := c.User + c.Nice + c.System + c.Idle + c.Iowait + c.IRQ + c.SoftIRQ + c.Steal
			h.CPUTicks = uint64(tot*ClockTicks + 0.5)
			h.CPUIdleTicks = uint64((c.Idle+c.Iowait)*ClockTicks + 0.5)
		} else {
			unavail["stat"] = hostReason(err)
		}
		if la, err := fs.LoadAvg(); err == nil {
			h.Load1, h.Load5, h.Load15 = la.Load1, la.Load5, la.Load15
		} else {
			unavail["loadavg"] = hostReason(err)
		}
		if mi, err := fs.Meminfo(); err == nil && mi.MemAvailable != nil {
			h.MemAvailBytes = *mi.MemAvailable * 1024
		} else if err != nil {
			unavail["meminfo"] = hostReason(err)
		}
	}
	switch on, err := readDelayAcct(r.opts.Root); {
	case err == nil:
		h.DelayAcct = on
	default:
		unavail[HostDelayAcctKey] = hostReason(err)
	}
	if b, err := os.ReadFile(r.opts.Root + "/uptime"); err == nil {
		if i := bytes.IndexByte(b, ' '); i > 0 {
			h.UptimeSeconds, _ = strconv.ParseFloat(string(b[:i]), 64)
		}
	} else {
		unavail["uptime"] = hostReason(err)
	}
	if len(unavail) > 0 {
		h.Unavailable = unavail
	}
	return h
}
