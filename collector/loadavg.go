package collector

import (
	"bytes"
	"errors"
	"path/filepath"
)

// Runnable reads the machine's count of runnable tasks (the fourth field
// of /proc/loadavg, "running/total": the same count as procs_running in
// /proc/stat, this reader included) and the total number of tasks. It
// is safe for concurrent use.
func (r *Reader) Runnable() (running, total int, err error) {
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 128)
	data, _, err := readAt(pb.setTop("loadavg"), &buf, 4096)
	if err != nil {
		return 0, 0, &ReadError{File: filepath.Join(r.opts.Root, "loadavg"), Err: err}
	}
	running, total, err = parseLoadavgTasks(data)
	if err != nil {
		return 0, 0, &ReadError{File: filepath.Join(r.opts.Root, "loadavg"), Err: err}
	}
	return running, total, nil
}

// errLoadavgFormat is wrapped by loadavg parse errors.
var errLoadavgFormat = errors.New("malformed loadavg")

// parseLoadavgTasks takes "R/T" out of /proc/loadavg
// ("0.52 0.58 0.59 3/456 12345").
func parseLoadavgTasks(b []byte) (running, total int, err error) {
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0, 0, errLoadavgFormat
	}
	rs, ts, ok := bytes.Cut(f[3], []byte("/"))
	r, ok1 := parseUint(rs)
	t, ok2 := parseUint(ts)
	if !ok || !ok1 || !ok2 || r > 1<<31 || t > 1<<31 {
		return 0, 0, errLoadavgFormat
	}
	return int(r), int(t), nil
}
