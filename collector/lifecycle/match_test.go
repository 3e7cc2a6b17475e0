package lifecycle

import (
	"testing"

	"github.com/pinspect/pinspect/collector"
)

// TestLowerASCII: only ASCII letters are lowered; Ä, ß and a byte that
// is not UTF-8 stay as they are, so the needle still matches the name
// it was typed from; a lower-case text is returned as it is.
func TestLowerASCII(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "abc": "abc", "ABC": "abc", "ÄPFEL": "Äpfel", "Straße": "straße", "\xffRAW": "\xffraw",
	} {
		if got := LowerASCII(in); got != want {
			t.Errorf("LowerASCII(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = LowerASCII("already lower äö") }); n != 0 {
		t.Errorf("a lower-case text allocated %v times", n)
	}
	p := &collector.Process{ProcStat: collector.ProcStat{Comm: "Äpfel"}, ProcCmdline: collector.ProcCmdline{Cmdline: []string{"\xffRaw"}}}
	for _, text := range []string{"Äpfel", "ÄPFEL", "\xffraw", "\xffRAW"} {
		if !MatchesName(p, LowerASCII(text)) {
			t.Errorf("%q does not match comm Äpfel / argument \\xffRaw", text)
		}
	}
}
