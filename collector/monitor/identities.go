package monitor

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/pinspect/pinspect/collector"
)

// readerIdentities answers the connector's lookups for a reader's root.
// (It reads the root's stat, exe and task entries directly until the
// reader offers these lookups under its deadlines; then each method
// becomes one call to it.)
type readerIdentities struct{ r *collector.Reader }

func (ri readerIdentities) identity(pid int) (identity, error) {
	p, err := collector.ReadStatIdentity(ri.r.Root(), pid)
	if err != nil {
		return identity{}, err
	}
	return identity{StartTicks: p.StartTicks, Comm: p.Comm, State: p.State, NumThreads: p.NumThreads}, nil
}

func (ri readerIdentities) exe(pid int) string {
	s, err := os.Readlink(filepath.Join(ri.r.Root(), strconv.Itoa(pid), "exe"))
	if err != nil {
		return ""
	}
	return s
}

func (ri readerIdentities) taskListed(tgid, tid int) bool {
	_, err := os.Stat(filepath.Join(ri.r.Root(), strconv.Itoa(tgid), "task", strconv.Itoa(tid)))
	return err == nil
}
