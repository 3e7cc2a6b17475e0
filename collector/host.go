package collector

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/prometheus/procfs"
	"github.com/shirou/gopsutil/v3/common"
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
	if b, err := readHostFile(root + "/sys/kernel/hostname"); err == nil {
		h.hostname = strings.TrimSpace(string(b))
	} else {
		h.unavailable["hostname"] = hostReason(err)
	}
	if b, err := readHostFile(root + "/sys/kernel/osrelease"); err == nil {
		h.kernel = strings.TrimSpace(string(b))
	} else {
		h.unavailable["kernel"] = hostReason(err)
	}
	// Boot time: btime from /proc/stat is exact; gopsutil derives it from
	// uptime on some machines (it drifts by the read latency), so it is
	// only the fallback.
	if fs, err := procfs.NewFS(root); err == nil && checkHostFile(root+"/stat") == nil {
		if st, err := fs.Stat(); err == nil && st.BootTime > 0 {
			h.bootTime = time.Unix(int64(st.BootTime), 0).UTC()
		}
	}
	if h.bootTime.IsZero() && checkHostFile(root+"/uptime") == nil {
		if bt, err := host.BootTimeWithContext(ctx); err == nil && bt > 0 {
			h.bootTime = time.Unix(int64(bt), 0).UTC()
		}
	}
	if h.bootTime.IsZero() {
		h.unavailable["boot_time"] = "unreadable /proc/stat btime and /proc/uptime"
	}
	// gopsutil opens the files itself: they are checked first, so that a
	// FIFO or a device in a tree given with --proc-root cannot hang it.
	if err := checkHostFile(root + "/cpuinfo"); err != nil {
		h.unavailable["cpus"] = hostReason(err)
	} else if n, err := logicalCPUs(root); err == nil && n > 0 {
		h.cpus = n
	} else {
		h.unavailable["cpus"] = "unreadable /proc/cpuinfo"
	}
	if err := checkHostFile(root + "/meminfo"); err != nil {
		h.unavailable["mem_total"] = hostReason(err)
	} else if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil && vm.Total > 0 {
		h.memTotal = vm.Total
	} else {
		h.unavailable["mem_total"] = "unreadable /proc/meminfo"
	}
	if v := procVisibility(root, os.Geteuid()); v != "" {
		h.unavailable[HostProcessesKey] = v
	}
	return h
}

// maxHostFileBytes caps a machine-wide file under the /proc root
// (/proc/stat of a machine with 1,024 CPUs is about 200 KiB).
const maxHostFileBytes = 4 << 20

// readHostFile reads a machine-wide file under the /proc root (hostname,
// osrelease, uptime, task_delayacct): a regular file only, at most
// maxHostFileBytes. The root is a tree the user names (--proc-root), so
// a FIFO or a device there must neither hang the start nor a scan: the
// file is opened without blocking and its type checked on the
// descriptor (procfs files are regular files of size 0).
func readHostFile(path string) ([]byte, error) {
	fd, err := openHostFile(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var buf []byte
	b, truncated, err := readFD(fd, &buf, maxHostFileBytes)
	if err != nil {
		return nil, &ReadError{File: path, Err: err}
	}
	if truncated {
		return nil, &ReadError{File: path, Err: ErrTooLarge}
	}
	return b, nil
}

// checkHostFile checks, before a library (procfs, gopsutil) opens and
// reads the file itself, that it is what readHostFile would read.
func checkHostFile(path string) error {
	fd, err := openHostFile(path)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// openHostFile opens path without blocking and returns the descriptor
// of a regular file of at most maxHostFileBytes.
func openHostFile(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, &ReadError{File: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &ReadError{File: path, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		err = ErrNotRegular
	case st.Size > maxHostFileBytes:
		err = ErrTooLarge
	}
	if err != nil {
		unix.Close(fd)
		return -1, &ReadError{File: path, Err: err}
	}
	return fd, nil
}

// HostDelayAcctKey is the Host.Unavailable key of kernel.task_delayacct.
const HostDelayAcctKey = "task_delayacct"

// DelayAcct reads kernel.task_delayacct (sys/kernel/task_delayacct
// under root): whether the kernel counts per-task delays (the block I/O
// delay of stat field 42). It can be turned on and off while pinspect
// runs, so it is read every snapshot (one small file).
func DelayAcct(root string) (bool, error) {
	b, err := readHostFile(root + "/sys/kernel/task_delayacct")
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

// readHost reads the per-snapshot host facts: /proc/stat (every CPU's
// times, context switches, forks), meminfo, loadavg, uptime and the
// pressure files, raw (hoststat.go), with the static facts read once.
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
	hr := hostReads{root: r.opts.Root, buf: make([]byte, 0, 8192)}
	hr.readHostTick(&h, unavail)
	switch on, err := DelayAcct(r.opts.Root); {
	case err == nil:
		h.DelayAcct = on
	default:
		unavail[HostDelayAcctKey] = hostReason(err)
	}
	if len(unavail) > 0 {
		h.Unavailable = unavail
	}
	return h
}

// logicalCPUs counts the logical CPUs of the machine under root exactly as
// gopsutil's cpu.CountsWithContext(ctx, true) does with its proc root set
// to root (held to it by TestLogicalCPUsAsGopsutil): the "processor : N"
// lines of cpuinfo, any case, N a number; when there are none, the cpuN
// lines of stat. It is written here so that pinspect does not link
// gopsutil's cpu package, whose init reads and parses /proc/stat twice in
// every pinspect command (about 0.3 ms, for CPU percentages pinspect
// never asks it for).
func logicalCPUs(root string) (int, error) {
	n := 0
	if lines, err := readLinesAsGopsutil(filepath.Join(root, "cpuinfo")); err == nil {
		for _, line := range lines {
			line = strings.ToLower(line)
			if strings.HasPrefix(line, "processor") {
				if _, err := strconv.Atoi(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])); err == nil {
					n++
				}
			}
		}
	}
	if n > 0 {
		return n, nil
	}
	lines, err := readLinesAsGopsutil(filepath.Join(root, "stat"))
	if err != nil {
		return 0, err
	}
	for _, line := range lines {
		if len(line) >= 4 && strings.HasPrefix(line, "cpu") && '0' <= line[3] && line[3] <= '9' {
			n++
		}
	}
	return n, nil
}

// readLinesAsGopsutil reads the lines of a file as gopsutil's
// common.ReadLines does: each without its newline, the last one even
// without a newline, and a read error part-way ends the lines without an
// error. The file is opened as every host file is (openHostFile: without
// blocking, a regular file, bounded), so that a FIFO or a device in a
// tree given with --proc-root cannot hang the count (review14: stat, the
// fallback, was opened with no check).
func readLinesAsGopsutil(path string) ([]string, error) {
	fd, err := openHostFile(path)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var lines []string
	// One byte past the bound tells a file that does not fit (cpuinfo of
	// some thousands of CPUs) from one that does: cut, it would count
	// low, so it is an error and the count goes to stat.
	lr := &io.LimitedReader{R: f, N: maxHostFileBytes + 1}
	r := bufio.NewReader(lr)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if lr.N == 0 {
				return nil, &ReadError{File: path, Err: ErrTooLarge}
			}
			if err == io.EOF && len(line) > 0 {
				lines = append(lines, strings.Trim(line, "\n"))
			}
			return lines, nil
		}
		lines = append(lines, strings.Trim(line, "\n"))
	}
}
