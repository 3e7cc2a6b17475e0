package metrics

import (
	"context"
	"maps"
	"net"
	"net/http"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
)

// Client is who made a request, as far as the server can tell, and so
// what it may see (docs/SECURITY.md, "pinspect serve: who sees what").
//
//   - Full: an authenticated client (web config basic auth, or a TLS
//     client certificate verified against client_ca_file), or a peer on
//     the unix socket whose uid is 0 or the agent's own. It sees
//     everything the agent reads.
//   - Local (unix socket, SO_PEERCRED): a peer with another uid sees in
//     full the processes it could read itself (its own uid and gid, real,
//     effective and saved), and the others as an unprivileged reader does.
//   - Anyone else (TCP without authentication): every process as an
//     unprivileged reader sees it; nothing at all per process when the
//     /proc is mounted with hidepid.
//
// An unprivileged reader sees stat and status (state, parent, ids,
// times, sizes, signals, context switches), but not what the kernel
// guards with a ptrace check: the executable's path, the memory layout,
// the memory map, thread stack pointers, what a process waits on
// (wchan). Those are removed for it.
type Client struct {
	Full  bool
	Local bool // a unix-socket peer: UID and GID are its credentials
	UID   int
	GID   int
	// Key names the client for per-client budgets: "user:NAME",
	// "uid:N", "cert:SUBJECT" or "ip:ADDR".
	Key string
}

type clientKey struct{}

// withClient returns ctx carrying c.
func withClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf returns the client of a request (an unauthenticated one when
// the request did not pass the server's guard).
func ClientOf(ctx context.Context) Client {
	if c, ok := ctx.Value(clientKey{}).(Client); ok {
		return c
	}
	return Client{Key: "unknown"}
}

// MaySee reports whether c may see p in full: what the kernel would let
// c read of p itself. It follows the ptrace access check on credentials
// (the peer's uid and gid equal the process's real, effective and saved
// ones) and the capability rule after it: the process's permitted
// capabilities must be a subset of the reader's effective ones. The
// server does not know a peer's capabilities (SO_PEERCRED gives ids
// only), so a process with any permitted capability is restricted for a
// Local peer; a peer of uid 0 is Full. Last, the kernel refuses a process
// that is not dumpable (a setuid program that changed to c's uid, such as
// sshd's per-user process): its /proc/PID files are then root's, which
// the collector records with collector.Options.DumpOwners
// (Process.DumpOwnerUID); a process whose owner is not known to be c's
// uid is restricted.
func (c Client) MaySee(p *collector.Process) bool {
	if c.Full {
		return true
	}
	if !c.Local || p.Read&collector.SrcStatus == 0 {
		return false
	}
	for i := range 3 {
		if p.UIDs[i] != c.UID || p.GIDs[i] != c.GID {
			return false
		}
	}
	return p.CapPrm == 0 && p.DumpOwnerUID == c.UID
}

// peerCreds are a unix-socket connection's peer credentials.
type peerCreds struct {
	uid, gid, pid int
}

type peerKey struct{}

// connContext records the peer credentials of a unix-socket connection
// in its context (http.Server.ConnContext).
// The connection itself is kept there too, for park.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if g := gatedOf(c); g != nil {
		ctx = context.WithValue(ctx, connKey{}, g)
		c = g.Conn
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, peerCreds{uid: int(cred.Uid), gid: int(cred.Gid), pid: int(cred.Pid)})
}

// peerOf returns the peer credentials of r's connection, if it came on
// the unix socket.
func peerOf(r *http.Request) (peerCreds, bool) {
	p, ok := r.Context().Value(peerKey{}).(peerCreds)
	return p, ok
}

// restrictProcess removes from p what an unprivileged reader of /proc
// cannot read about another user's process: the executable's path, the
// stat layout ([PT] fields) and a zombie's exit status (stat field 52,
// [PT]: the kernel writes 0 for such a reader), each marked unavailable,
// never left as 0. p must be a copy the caller owns; its maps are
// replaced, not written to.
func restrictProcess(p *collector.Process) {
	un := make(map[string]string, len(p.Unavailable)+2)
	maps.Copy(un, p.Unavailable)
	if p.Exe != "" || p.Read&collector.SrcExe != 0 {
		un["exe"] = ReasonNeedsAuth
	}
	if p.IsZombie() {
		un["exit_code"] = ReasonNeedsAuth
	}
	p.Exe, p.ExeDeleted = "", false
	p.Read &^= collector.SrcExe
	p.Layout = collector.Layout{}
	p.ExitCode = -1
	p.Unavailable = un
}

// restrictEvent removes from an event what an unprivileged reader could
// not have read of the process: its executable paths (the exec'd path
// too: /proc/PID/cmdline would not give the interpreter's) and its exit status
// (a zombie's stat field 52, or the connector's report of it). An event
// does not carry the process's ids, so it is restricted for every client
// that is not Full; a removed exit status is said in the note.
func restrictEvent(e *lifecycle.Event) {
	e.Exe, e.OldExe, e.ExecPath = "", "", nil
	if e.ExitStatus != nil {
		e.ExitStatus = nil
		note := "exit status " + ReasonNeedsAuth
		if e.Note != "" {
			note = e.Note + "; " + note
		}
		e.Note = note
	}
}

// ReasonNeedsAuth is the reason given for a field an unauthenticated
// client may not see.
const ReasonNeedsAuth = "permission denied (needs an authenticated client)"

// clientKeyOf names an unauthenticated TCP client by its address.
func clientKeyOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// uidKey names a unix-socket peer.
func uidKey(uid int) string { return "uid:" + strconv.Itoa(uid) }
