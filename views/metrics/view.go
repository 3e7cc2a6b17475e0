package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/pinspect/pinspect/collector"
	"github.com/pinspect/pinspect/collector/lifecycle"
	"github.com/pinspect/pinspect/collector/monitor"
)

// viewCache holds the snapshots served for the latest frame: one for full
// clients, one for unauthenticated ones, and one per unix-socket peer uid
// (at most maxUIDViews, beyond which a view is built per request).
type viewCache struct {
	seq   uint64
	full  *collector.Snapshot
	anon  *collector.Snapshot
	byUID map[int]*collector.Snapshot
}

const maxUIDViews = 32

// viewFor returns f's snapshot as client may see it: command lines
// removed (or redacted with Cmdline), and for a client that is not Full
// the processes it may not read itself restricted (RestrictProcess), or
// left out when the /proc hides other users' processes.
func (s *Server) viewFor(f *monitor.Frame, client Client) *collector.Snapshot {
	s.mu.Lock()
	if s.views.seq != f.Seq || s.views.full == nil {
		s.views = viewCache{seq: f.Seq, byUID: make(map[int]*collector.Snapshot)}
	}
	var hit *collector.Snapshot
	switch {
	case client.Full:
		hit = s.views.full
	case client.Local:
		hit = s.views.byUID[client.UID]
	default:
		hit = s.views.anon
	}
	s.mu.Unlock()
	if hit != nil {
		return hit
	}
	v := s.buildView(f.Snapshot, client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.views.seq == f.Seq {
		switch {
		case client.Full:
			s.views.full = v
		case client.Local:
			if len(s.views.byUID) < maxUIDViews {
				s.views.byUID[client.UID] = v
			}
		default:
			s.views.anon = v
		}
	}
	return v
}

func (s *Server) buildView(snap *collector.Snapshot, client Client) *collector.Snapshot {
	cp := *snap
	cp.Processes = make([]collector.Process, 0, len(snap.Processes))
	for i := range snap.Processes {
		p := snap.Processes[i]
		full := client.MaySee(&p)
		if !full && s.opts.HidesOthers {
			// The count of threads by state included this process.
			cp.ThreadStates = nil
			continue
		}
		if s.opts.Cmdline && len(p.Cmdline) > 0 {
			p.Cmdline = RedactArgs(p.Cmdline)
		} else {
			p.Cmdline = nil
			p.CmdlineTruncated, p.CmdlineNoNUL = false, false
		}
		if !full {
			restrictProcess(&p)
		}
		cp.Processes = append(cp.Processes, p)
	}
	if len(cp.Processes) < len(snap.Processes) {
		cp.Problems = nil // they may name processes left out
	}
	return &cp
}

// RestrictProcess removes from p (a copy the caller owns) what an
// unprivileged reader cannot read of another user's process: the
// executable's path, the memory layout and what it waits on. A
// ProcessDoc builder applies it when the request's client may not see p
// (Client.MaySee), and reads no address space for it.
func RestrictProcess(p *collector.Process) { restrictProcess(p) }

// zombiesFor returns f's zombie groups as client may see them. For a
// parent it may not see in full (Client.MaySee) the wait channel is
// removed (ParentWChanUnavailable says why) and the diagnosis, which
// names it, written again; for a zombie it may not see in full the exit
// status is removed (ExitUnavailable says why). When the /proc hides
// other users' processes, only the parents and zombies it may see are
// left.
func (s *Server) zombiesFor(f *monitor.Frame, client Client) []lifecycle.ZombieGroup {
	if client.Full || len(f.Zombies) == 0 {
		return f.Zombies
	}
	out := make([]lifecycle.ZombieGroup, 0, len(f.Zombies))
	for _, g := range f.Zombies {
		par := lifecycle.Find(f.Snapshot, g.Parent.PID)
		seeParent := par != nil && client.MaySee(par)
		if !seeParent && s.opts.HidesOthers {
			continue
		}
		changed := false
		if !seeParent && !g.ParentMissing {
			g.ParentWChan, g.ParentWChanUnavailable = "", ReasonNeedsAuth
			changed = true
		}
		zs := make([]lifecycle.ZombieInfo, 0, len(g.Zombies))
		for _, z := range g.Zombies {
			zp := lifecycle.Find(f.Snapshot, z.ID.PID)
			if zp != nil && client.MaySee(zp) {
				zs = append(zs, z)
				continue
			}
			if s.opts.HidesOthers {
				changed = true
				continue
			}
			if z.Exit != nil || z.ExitUnavailable != "" {
				z.Exit, z.ExitUnavailable = nil, ReasonNeedsAuth
			}
			zs = append(zs, z)
		}
		if len(zs) == 0 {
			continue
		}
		g.Zombies = zs
		if changed {
			g.Since = zs[0].FirstSeen
			g.Young = true
			for _, z := range zs {
				g.Young = g.Young && z.Young
			}
			g.Rediagnose(f.Snapshot)
		}
		out = append(out, g)
	}
	return out
}

// orphansFor returns f's orphans as client may see them: all of them
// (nothing in an orphan's entry is guarded by the kernel), or only the
// ones it may see when the /proc hides other users' processes.
func (s *Server) orphansFor(f *monitor.Frame, client Client) []lifecycle.Orphan {
	if client.Full || !s.opts.HidesOthers {
		return f.Orphans
	}
	out := make([]lifecycle.Orphan, 0, len(f.Orphans))
	for _, o := range f.Orphans {
		if p := lifecycle.Find(f.Snapshot, o.ID.PID); p != nil && client.MaySee(p) {
			out = append(out, o)
		}
	}
	return out
}

// slots is a request budget: at most cap at once, and at most perClient
// (0: no limit) for one client.
type slots struct {
	ch        chan struct{}
	perClient int
	mu        sync.Mutex
	held      map[string]int
}

func newSlots(n, perClient int) *slots {
	return &slots{ch: make(chan struct{}, n), perClient: perClient, held: make(map[string]int)}
}

// acquire takes a slot for client, waiting up to wait; false when the
// client holds its share already, no slot came in time, or ctx ended.
func (s *slots) acquire(ctx context.Context, client string, wait time.Duration) (func(), bool) {
	if s.perClient > 0 {
		s.mu.Lock()
		if s.held[client] >= s.perClient {
			s.mu.Unlock()
			return nil, false
		}
		s.held[client]++
		s.mu.Unlock()
	}
	give := func() {
		if s.perClient > 0 {
			s.mu.Lock()
			if s.held[client]--; s.held[client] <= 0 {
				delete(s.held, client)
			}
			s.mu.Unlock()
		}
	}
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; give() }, true
	default:
	}
	if wait <= 0 {
		give()
		return nil, false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; give() }, true
	case <-t.C:
	case <-ctx.Done():
	}
	give()
	return nil, false
}

// fairSlots is a request budget where each client takes its turn: at most
// cap at once, one per client; a client's further requests wait for its
// own turn (at most maxQueued of them), holding no shared slot while they
// wait, so a client that keeps asking cannot queue ahead of the others.
type fairSlots struct {
	ch        chan struct{}
	maxQueued int
	mu        sync.Mutex
	clients   map[string]*clientTurn
}

// clientTurn is one client's turn: its holder and how many requests of it
// hold or wait.
type clientTurn struct {
	turn chan struct{}
	refs int
}

func newFairSlots(n, maxQueued int) *fairSlots {
	return &fairSlots{ch: make(chan struct{}, n), maxQueued: maxQueued, clients: make(map[string]*clientTurn)}
}

// acquire takes client's turn and then a slot, waiting up to wait in all;
// false when the client has maxQueued requests waiting already, no slot
// came in time, or ctx ended.
func (s *fairSlots) acquire(ctx context.Context, client string, wait time.Duration) (func(), bool) {
	s.mu.Lock()
	ct := s.clients[client]
	if ct == nil {
		ct = &clientTurn{turn: make(chan struct{}, 1)}
		s.clients[client] = ct
	}
	if ct.refs > s.maxQueued {
		s.mu.Unlock()
		return nil, false
	}
	ct.refs++
	s.mu.Unlock()
	drop := func() {
		s.mu.Lock()
		if ct.refs--; ct.refs == 0 {
			delete(s.clients, client)
		}
		s.mu.Unlock()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case ct.turn <- struct{}{}:
	case <-t.C:
		drop()
		return nil, false
	case <-ctx.Done():
		drop()
		return nil, false
	}
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; <-ct.turn; drop() }, true
	case <-t.C:
	case <-ctx.Done():
	}
	<-ct.turn
	drop()
	return nil, false
}

// stuckBudgets gives each API client a budget of stuck reads under one
// budget of all API clients together: the scanner's budget is never
// charged for a request (collector.StuckBudget).
type stuckBudgets struct {
	api       *collector.StuckBudget
	perClient int
	mu        sync.Mutex
	clients   map[string]*collector.StuckBudget
}

func newStuckBudgets(total, perClient int) *stuckBudgets {
	return &stuckBudgets{api: collector.NewStuckBudget(total, nil), perClient: perClient, clients: make(map[string]*collector.StuckBudget)}
}

// maxStuckClients bounds the clients whose budgets are kept; past it the
// budgets with nothing stuck are forgotten.
const maxStuckClients = 1024

// of returns client's budget.
func (b *stuckBudgets) of(client string) *collector.StuckBudget {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.clients[client]; c != nil {
		return c
	}
	if len(b.clients) >= maxStuckClients {
		for k, c := range b.clients {
			if c.Stuck() == 0 {
				delete(b.clients, k)
			}
		}
	}
	c := collector.NewStuckBudget(b.perClient, b.api)
	b.clients[client] = c
	return c
}

// Stuck returns the API clients' reads still stuck.
func (b *stuckBudgets) Stuck() int { return b.api.Stuck() }
