package collector

import (
	"os"
	"testing"
)

func TestParseLimits(t *testing.T) {
	data := []byte(`Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            1024                 524288               files     
Max nice priority         0                    0                    
`)
	got := parseLimits(data)
	if len(got) != 3 {
		t.Fatalf("%d limits: %+v", len(got), got)
	}
	if got[0] != (Limit{Name: "Max cpu time", Soft: -1, Hard: -1, Units: "seconds"}) {
		t.Errorf("cpu: %+v", got[0])
	}
	if got[1] != (Limit{Name: "Max open files", Soft: 1024, Hard: 524288, Units: "files"}) {
		t.Errorf("files: %+v", got[1])
	}
	if got[2] != (Limit{Name: "Max nice priority", Soft: 0, Hard: 0}) {
		t.Errorf("nice: %+v", got[2])
	}
	if parseLimits([]byte("garbage\x00\n\n")) != nil || parseLimits(nil) != nil {
		t.Error("garbage must give no limits")
	}
}

// TestParseStatusCaps: status gives all five capability sets (so Details
// of a process just read needs no second status read); a bad value is a
// malformed status, like every known key.
func TestParseStatusCaps(t *testing.T) {
	sf, err := parseStatus([]byte("Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t00000000000000ff\nCapEff:\t0000000000000001\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000002\n"))
	if err != nil {
		t.Fatal(err)
	}
	var p Process
	p.CapInh, p.CapPrm, p.CapEff, p.CapBnd, p.CapAmb = sf.capInh, sf.capPrm, sf.capEff, sf.capBnd, sf.capAmb
	if c := p.Capabilities(); c != (Capabilities{Prm: 0xff, Eff: 1, Bnd: 0x1ffffffffff, Amb: 2}) {
		t.Errorf("caps %+v", c)
	}
	if _, err := parseStatus([]byte("CapBnd:\tzz\n")); err == nil {
		t.Error("CapBnd zz parsed")
	}
}

// TestDetailsOfCaps: the capabilities of a process read by a snapshot are
// those Details reads from status, and DetailsOf takes them from the
// process.
func TestDetailsOfCaps(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := r.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Details(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.Capabilities() != d.Caps || d.Caps.Bnd == 0 {
		t.Errorf("process caps %+v, Details caps %+v", p.Capabilities(), d.Caps)
	}
	d2, err := r.DetailsOf(p)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Caps != d.Caps || len(d2.Namespaces) != len(d.Namespaces) || len(d2.Limits) != len(d.Limits) {
		t.Errorf("DetailsOf %+v, Details %+v", d2, d)
	}
}

func TestDetailsSelf(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Details(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Namespaces) == 0 || len(d.Limits) == 0 || len(d.Cgroups) == 0 {
		t.Errorf("details of self: %+v", d)
	}
	seen := false
	for _, n := range d.Namespaces {
		seen = seen || n.Type == "pid" && n.Inode != 0
	}
	if !seen {
		t.Errorf("no pid namespace in %+v", d.Namespaces)
	}
	if _, err := r.Details(1 << 30); !IsVanished(err) {
		t.Errorf("a missing pid: %v, want vanished", err)
	}
	if _, err := r.WChan(1 << 30); !IsVanished(err) {
		t.Errorf("wchan of a missing pid: %v, want vanished", err)
	}
	if id, err := r.Identity(os.Getpid(), false); err != nil || id.PID != os.Getpid() || id.StartTicks == 0 || id.PPID != os.Getppid() {
		t.Errorf("identity %+v %v", id, err)
	}
}
