//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// scrapeFlags are serve's options of a dedicated scrape listener
// (docs/SECURITY.md, "A listener for the scraper").
type scrapeFlags struct {
	addrs []string
	allow []string
	mode  string
	group string
	// modeSet and groupSet say whether --web.scrape-socket-mode and
	// --web.scrape-socket-group were given: the mode given as its
	// default without a scrape address was taken silently (tester14).
	modeSet, groupSet bool
	parsed            scrapeSetup
}

// scrapeSetup is scrapeFlags checked.
type scrapeSetup struct {
	addrs []listenAddr
	allow []*net.IPNet
	mode  uint32 // of a unix socket
	gid   int    // of a unix socket; -1: the agent's
}

// defaultScrapeSocketMode lets the agent's group connect to a scrape
// socket, nobody else.
const defaultScrapeSocketMode = "0660"

// checkScrapeFlags checks --web.scrape-address, --web.scrape-allow,
// --web.scrape-socket-mode and --web.scrape-socket-group (usage errors).
func checkScrapeFlags(f *scrapeFlags, any bool) error {
	f.parsed = scrapeSetup{gid: -1}
	if len(f.addrs) == 0 {
		if len(f.allow) > 0 || f.groupSet || f.modeSet {
			return usageError{fmt.Errorf("--web.scrape-allow, --web.scrape-socket-mode and --web.scrape-socket-group need --web.scrape-address")}
		}
		return nil
	}
	addrs, err := parseListen("--web.scrape-address", f.addrs, any)
	if err != nil {
		return err
	}
	f.parsed.addrs = addrs
	var tcp, unixSock bool
	for _, a := range addrs {
		tcp, unixSock = tcp || a.network == "tcp", unixSock || a.network == "unix"
	}
	if len(f.allow) > 0 && !tcp {
		return usageError{fmt.Errorf("--web.scrape-allow applies to a TCP --web.scrape-address, and every one given is a unix socket (its mode and group decide who connects)")}
	}
	if (f.groupSet || f.modeSet) && !unixSock {
		return usageError{fmt.Errorf("--web.scrape-socket-mode and --web.scrape-socket-group apply to a unix:PATH --web.scrape-address, and none is given (a TCP one is limited with --web.scrape-allow)")}
	}
	for _, a := range f.allow {
		for _, part := range strings.Split(a, ",") {
			_, n, err := net.ParseCIDR(strings.TrimSpace(part))
			if err != nil {
				ip := net.ParseIP(strings.TrimSpace(part))
				if ip == nil {
					return usageError{fmt.Errorf("--web.scrape-allow %q: want a network (10.0.0.0/8) or an address", part)}
				}
				bits := 8 * len(ip.To16())
				if ip.To4() != nil {
					ip, bits = ip.To4(), 32
				}
				n = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
			}
			f.parsed.allow = append(f.parsed.allow, n)
		}
	}
	m, err := strconv.ParseUint(f.mode, 8, 32)
	if err != nil || m > 0o777 {
		return usageError{fmt.Errorf("--web.scrape-socket-mode %q: want an octal mode like 0660", f.mode)}
	}
	f.parsed.mode = uint32(m)
	if f.group != "" {
		gid, err := lookupGroup(f.group)
		if err != nil {
			return usageError{fmt.Errorf("--web.scrape-socket-group: %w", err)}
		}
		f.parsed.gid = gid
	}
	return nil
}

// lookupGroup returns the gid of a group name or number.
func lookupGroup(name string) (int, error) {
	if gid, err := strconv.Atoi(name); err == nil && gid >= 0 {
		return gid, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// listenScrape opens the scrape listeners. A unix socket is bound with
// the chosen mode (through the umask, never a chmod of its path), then
// given the chosen group with lchown, which does not follow a symbolic
// link planted in its place; it must still be a socket afterwards.
func listenScrape(s scrapeSetup) ([]net.Listener, error) {
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, fmt.Errorf("--web.scrape-address: %w", err)
	}
	for _, a := range s.addrs {
		if a.network != "unix" {
			l, err := net.Listen(a.network, a.address)
			if err != nil {
				return fail(err)
			}
			ls = append(ls, l)
			continue
		}
		if err := clearStaleSocket(a.address); err != nil {
			return fail(err)
		}
		old := unix.Umask(int(^s.mode & 0o777))
		l, err := net.Listen("unix", a.address)
		unix.Umask(old)
		if err != nil {
			return fail(err)
		}
		ls = append(ls, l)
		if s.gid >= 0 {
			if err := unix.Fchownat(unix.AT_FDCWD, a.address, -1, s.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fail(fmt.Errorf("unix:%s: setting its group: %w", a.address, err))
			}
		}
		if fi, err := os.Lstat(a.address); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return fail(fmt.Errorf("unix:%s: no longer a socket after it was bound (is the directory writable by others?)", a.address))
		}
	}
	return ls, nil
}
