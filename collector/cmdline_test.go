package collector

import (
	"encoding/binary"
	"slices"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	cases := []struct {
		in    string
		want  []string
		title bool
	}{
		{"", nil, false},
		{"\x00\x00", nil, false},
		{"/bin/sh\x00-c\x00echo hi\x00", []string{"/bin/sh", "-c", "echo hi"}, false},
		{"a\x00\x00b\x00", []string{"a", "", "b"}, false},
		{"nginx: worker process", []string{"nginx: worker process"}, true},
		{"cut\x00at the ca", []string{"cut", "at the ca"}, false},
		{"/sbin/init\x00", []string{"/sbin/init"}, false},
	}
	for _, c := range cases {
		got, title := parseCmdline([]byte(c.in))
		if !slices.Equal(got, c.want) || title != c.title {
			t.Errorf("parseCmdline(%q) = %q %v, want %q %v", c.in, got, title, c.want, c.title)
		}
	}
}

// direntRecord builds one getdents64 record.
func direntRecord(name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint64(b, 1)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	b[18] = 4
	copy(b[19:], name)
	return b
}

func TestParseDirents(t *testing.T) {
	var buf []byte
	for _, n := range []string{".", "..", "0", "1", "self", "4242", "007", "99999999999", "12a"} {
		buf = append(buf, direntRecord(n)...)
	}
	var got []int
	n := parseDirents(buf, func(id int) { got = append(got, id) })
	if n != len(buf) || !slices.Equal(got, []int{0, 1, 4242, 7}) { // fd 0 is standard input
		t.Fatalf("got %v consumed %d of %d", got, n, len(buf))
	}
	// A truncated trailing record is not consumed.
	part := append(direntRecord("5"), direntRecord("6")[:10]...)
	got = got[:0]
	if n := parseDirents(part, func(id int) { got = append(got, id) }); n != len(direntRecord("5")) || !slices.Equal(got, []int{5}) {
		t.Fatalf("truncated: %v %d", got, n)
	}
	// A zero reclen must not loop forever.
	bad := direntRecord("9")
	bad[16], bad[17] = 0, 0
	if n := parseDirents(bad, func(int) { t.Fatal("called") }); n != 0 {
		t.Fatal(n)
	}
}
