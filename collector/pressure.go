package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// Pressure is one resource's pressure stall information (PSI) from
// /proc/pressure/{cpu,io,memory} or a cgroup's *.pressure file.
type Pressure struct {
	// Some is the share of time at least one task was stalled on the
	// resource; Full the share of time all non-idle tasks were.
	Some PressureLine `json:"some"`
	// Full is absent on kernels that do not write a "full" line (the cpu
	// file before 5.13).
	Full *PressureLine `json:"full,omitempty"`
}

// PressureLine is one line of a PSI file.
type PressureLine struct {
	// Avg10, Avg60 and Avg300 are the stalled share in percent over the
	// last 10, 60 and 300 seconds (the kernel's running averages).
	Avg10  float64 `json:"avg10_percent"`
	Avg60  float64 `json:"avg60_percent"`
	Avg300 float64 `json:"avg300_percent"`
	// TotalUs is the total stalled time since boot, in microseconds: its
	// growth between two readings is the exact stall over that window.
	TotalUs uint64 `json:"total_us"`
}

// HostPressure is the machine's pressure stall information; a resource
// whose file could not be read is nil and named in Unavailable.
type HostPressure struct {
	CPU    *Pressure `json:"cpu,omitempty"`
	IO     *Pressure `json:"io,omitempty"`
	Memory *Pressure `json:"memory,omitempty"`
	// Unavailable maps "cpu", "io" or "memory" to why it is absent (no
	// /proc/pressure: a kernel without CONFIG_PSI, or psi=0).
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Pressure reads /proc/pressure/{cpu,io,memory}. It is safe for
// concurrent use.
func (r *Reader) Pressure() HostPressure {
	var h HostPressure
	pb, buf := newPathBuf(r.opts.Root), make([]byte, 0, 512)
	for _, res := range []struct {
		name string
		dst  **Pressure
	}{{"cpu", &h.CPU}, {"io", &h.IO}, {"memory", &h.Memory}} {
		data, _, err := readAt(pb.setTop("pressure/"+res.name), &buf, 4096)
		var pr Pressure
		if err == nil {
			pr, err = parsePressure(data)
		}
		if err != nil {
			if h.Unavailable == nil {
				h.Unavailable = make(map[string]string, 3)
			}
			// A host file that does not exist is a kernel (or a
			// --proc-root tree) without PSI: "not present", not
			// "vanished" (tester13 B1).
			if errors.Is(err, fs.ErrNotExist) {
				h.Unavailable[res.name] = ReasonNotPresent
			} else {
				h.Unavailable[res.name] = Reason(err)
			}
			continue
		}
		*res.dst = &pr
	}
	return h
}

// errPressureFormat is wrapped by every PSI parse error.
var errPressureFormat = errors.New("malformed pressure")

// parsePressure parses a PSI file: a "some" line and an optional "full"
// line, each "avg10=F avg60=F avg300=F total=N".
func parsePressure(b []byte) (Pressure, error) {
	var p Pressure
	haveSome := false
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		var pl PressureLine
		if err := pl.parse(f[1:]); err != nil {
			return p, err
		}
		switch string(f[0]) {
		case "some":
			p.Some, haveSome = pl, true
		case "full":
			full := pl
			p.Full = &full
		default:
			return p, fmt.Errorf("%w: unknown line %q", errPressureFormat, clip(f[0]))
		}
	}
	if !haveSome {
		return p, fmt.Errorf("%w: no some line", errPressureFormat)
	}
	return p, nil
}

// parse reads the key=value fields of one line; all four are required.
func (pl *PressureLine) parse(fields [][]byte) error {
	var seen uint8
	for _, kv := range fields {
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok {
			return fmt.Errorf("%w: no = in %q", errPressureFormat, clip(kv))
		}
		var dst *float64
		switch string(k) {
		case "avg10":
			dst, seen = &pl.Avg10, seen|1
		case "avg60":
			dst, seen = &pl.Avg60, seen|2
		case "avg300":
			dst, seen = &pl.Avg300, seen|4
		case "total":
			n, ok := parseUint(v)
			if !ok {
				return fmt.Errorf("%w: bad total %q", errPressureFormat, clip(v))
			}
			pl.TotalUs, seen = n, seen|8
			continue
		default:
			continue
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || !(f >= 0 && f <= 100) { // NaN fails too
			return fmt.Errorf("%w: bad %s %q", errPressureFormat, k, clip(v))
		}
		*dst = f
	}
	if seen != 15 {
		return fmt.Errorf("%w: missing fields", errPressureFormat)
	}
	return nil
}
