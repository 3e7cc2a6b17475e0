package report

import "bytes"

// inertJSON rewrites the DEL and C1 control characters (U+007F, U+0080 to
// U+009F) that encoding/json leaves raw into \u escapes. encoding/json
// already escapes C0 controls and replaces invalid UTF-8, so after this no
// byte of a document can act on a terminal (a C1 CSI, U+009B, is an escape
// sequence introducer for some terminals), while every decoder still reads
// the same strings. Outside strings JSON is plain ASCII, so the rewrite
// only touches string contents. b is returned unchanged when nothing needs
// escaping.
func inertJSON(b []byte) []byte {
	if bytes.IndexByte(b, 0x7f) < 0 && !hasC1(b) {
		return b
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+64)
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x7f:
			out = append(out, `\u007f`...)
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			out = append(out, '\\', 'u', '0', '0', hex[b[i+1]>>4], hex[b[i+1]&0xf])
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}

func hasC1(b []byte) bool {
	for {
		i := bytes.IndexByte(b, 0xc2)
		if i < 0 || i+1 >= len(b) {
			return false
		}
		if b[i+1] >= 0x80 && b[i+1] <= 0x9f {
			return true
		}
		b = b[i+1:]
	}
}
