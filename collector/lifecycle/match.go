package lifecycle

import (
	"strings"

	"github.com/pinspect/pinspect/collector"
)

// MatchesName reports whether text is in a process's names, the way every
// name filter of pinspect matches (ps, zombies and orphans --name, the
// dashboard's --name, its F4 filter and F3 search): in its comm, its
// executable's path, or its command line (any one argument; the line as
// shown, its arguments joined by spaces, when text holds a space),
// without regard to the case of ASCII letters. lower is the user's text
// through LowerASCII; "" matches every process.
func MatchesName(p *collector.Process, lower string) bool {
	if lower == "" {
		return true
	}
	if ContainsFold(p.Comm, lower) || ContainsFold(p.Exe, lower) {
		return true
	}
	for _, a := range p.Cmdline {
		if ContainsFold(a, lower) {
			return true
		}
	}
	// A text with a space ("threads 5") can span arguments.
	if len(p.Cmdline) > 1 && strings.IndexByte(lower, ' ') >= 0 {
		return ContainsFold(strings.Join(p.Cmdline, " "), lower)
	}
	return false
}

// LowerASCII returns s with its ASCII letters in lower case and every
// other byte as it is: the needle MatchesName and ContainsFold take, which
// fold ASCII only. strings.ToLower would not do: it lowers all of Unicode
// (Ä to ä, which then never matches the Ä of a name) and turns invalid
// UTF-8 into U+FFFD. It returns s itself, without allocating, when s has
// no upper-case ASCII letter.
func LowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// ContainsFold reports whether s contains lowerNeedle (LowerASCII),
// folding the ASCII letters of s, without allocating.
func ContainsFold(s, lowerNeedle string) bool {
	n := len(lowerNeedle)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lowerNeedle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
