package collector

import (
	"context"
	"testing"
	"time"

	"github.com/pinspect/pinspect/fixtures/livehelper"
)

// TestZombieCountsNotFromTaskstats: the kernel's TGID accounting of a
// zombie is empty, so its totals come from its status (the leader's
// counts), never a fake 0.
func TestZombieCountsNotFromTaskstats(t *testing.T) {
	h := livehelper.Start(t, "zombies", "1")
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); livehelper.Sleep() {
		s, err := r.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		z := find(s, h.PIDs[1])
		if z == nil || !z.IsZombie() {
			continue
		}
		if z.CtxSource == CtxTaskstats || z.VolCtx != z.LeaderVol || z.InvolCtx != z.LeaderInv {
			t.Fatalf("zombie totals %d/%d from %s, leader's status %d/%d", z.VolCtx, z.InvolCtx, z.CtxSource, z.LeaderVol, z.LeaderInv)
		}
		if z.LeaderVol+z.LeaderInv == 0 {
			t.Fatalf("a process that ran has switched at least once: %+v", z)
		}
		return
	}
	t.Fatal("zombie not seen")
}
