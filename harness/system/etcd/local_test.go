package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system/etcd"
)

// start starts an n-member cluster on the local backend, stopped when the test ends.
func start(t *testing.T, n int) (*etcd.Local, []cluster.Node) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts etcd members: not in -short")
	}
	b := &etcd.Local{}
	began := time.Now()
	nodes, err := b.Start(context.Background(), cluster.Spec{Nodes: n, Persistence: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d members elected a leader in %s", n, time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	return b, nodes
}

// within runs op with a deadline.
func within(d time.Duration, op func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return op(ctx)
}

// localGet reads key from member c alone (a serializable read: no leader, no quorum involved).
func localGet(c *clientv3.Client, key string) (string, error) {
	var v string
	err := within(time.Second, func(ctx context.Context) error {
		r, err := c.Get(ctx, key, clientv3.WithSerializable())
		if err == nil && len(r.Kvs) > 0 {
			v = string(r.Kvs[0].Value)
		}
		return err
	})
	return v, err
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestThreeMembersStartAsProcessesOfTheirOwnAndElectALeader(t *testing.T) {
	b, nodes := start(t, 3)
	if len(nodes) != 3 || nodes[0].Name != "n1" || nodes[2].Name != "n3" {
		t.Fatalf("nodes %+v", nodes)
	}
	pids := b.PIDs()
	if len(pids) != 3 || pids[0] == os.Getpid() || pids[0] == pids[1] {
		t.Fatalf("member processes %v (harness %d)", pids, os.Getpid())
	}
	// TestMain names a plain build: the members run from it, not from this race-instrumented test binary.
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pids[0])); err != nil || exe != os.Getenv(etcd.MemberExecutableEnv) {
		t.Fatalf("member runs from %q (%v), want %q", exe, err, os.Getenv(etcd.MemberExecutableEnv))
	}
	if _, err := b.Leader(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := etcd.NewClient(nodes[2].Addr, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := within(2*time.Second, func(ctx context.Context) error { _, err := c.Put(ctx, "k", "v"); return err }); err != nil {
		t.Fatalf("a write through n3: %v", err)
	}
	id, unknown := b.PeerConnections()
	t.Logf("peer connections: %d identified, %d of unknown sender", id, unknown)
	if id == 0 {
		t.Fatalf("the fronts told the sender of no peer connection (%d unknown)", unknown)
	}
}

func TestAPausedMemberAnswersNothingUntilItIsResumed(t *testing.T) {
	b, _ := start(t, 3)
	ctx := context.Background()
	leader, err := b.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := (leader + 1) % 3
	if err := b.Pause(ctx, i); err != nil {
		t.Fatal(err)
	}
	defer b.Resume(ctx, i)
	if _, err := localGet(b.Client(i), "k"); err == nil {
		t.Fatal("a paused member answered")
	}
	if err := within(2*time.Second, func(ctx context.Context) error {
		_, err := b.Client(leader).Put(ctx, "k", "written meanwhile")
		return err
	}); err != nil {
		t.Fatalf("the two running members could not write: %v", err)
	}
	if err := b.Resume(ctx, i); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the resumed member to catch up", func() bool {
		v, err := localGet(b.Client(i), "k")
		return err == nil && v == "written meanwhile"
	})
}

func TestAMemberKilledAndRestartedComesBackWithItsData(t *testing.T) {
	b, _ := start(t, 3)
	ctx := context.Background()
	if err := within(2*time.Second, func(ctx context.Context) error { _, err := b.Client(0).Put(ctx, "k", "kept"); return err }); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		waitFor(t, 5*time.Second, "every member to hold the key", func() bool { v, _ := localGet(b.Client(i), "k"); return v == "kept" })
	}
	// Every member goes down, so that what comes back can only come from each member's own directory.
	for i := range 3 {
		if err := b.Kill(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if pids := b.PIDs(); len(pids) != 0 {
		t.Fatalf("members still running after the kills: %v", pids)
	}
	if err := b.Pause(ctx, 0); !errors.Is(err, cluster.ErrNodeDown) {
		t.Fatalf("pause of a killed member: %v, want ErrNodeDown", err)
	}
	for i := range 3 {
		if _, err := b.Restart(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a leader after the restarts", func() bool { _, err := b.Leader(ctx); return err == nil })
	for i := range 3 {
		if v, err := localGet(b.Client(i), "k"); err != nil || v != "kept" {
			t.Fatalf("n%d after the restart: %q, %v", i+1, v, err)
		}
	}
}

func TestStopKillsEveryMemberAndIsSafeToCallTwice(t *testing.T) {
	b, _ := start(t, 3)
	ctx := context.Background()
	if err := b.Pause(ctx, 1); err != nil { // a frozen member must die too
		t.Fatal(err)
	}
	pids := b.PIDs()
	if len(pids) != 3 {
		t.Fatalf("pids %v", pids)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("member process %d is still there after Stop (%v)", pid, err)
		}
	}
}

func TestAMemberCutFromItsPeersLosesTheLeadershipAndServesNoReadUntilHealed(t *testing.T) {
	b, _ := start(t, 3)
	ctx := context.Background()
	old, err := b.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CutPeers(ctx, old); err != nil {
		t.Fatal(err)
	}
	defer b.HealPeers(ctx, old)
	began := time.Now()
	waitFor(t, 10*time.Second, "the others to elect another leader", func() bool {
		l, err := b.Leader(ctx)
		return err == nil && l != old
	})
	t.Logf("a new leader %s after the cut", time.Since(began).Round(time.Millisecond))
	if err := within(2*time.Second, func(ctx context.Context) error { _, err := b.Client(old).Get(ctx, "k"); return err }); err == nil {
		t.Fatal("the cut member served a linearizable read")
	}
	other := (old + 1) % 3
	if err := within(2*time.Second, func(ctx context.Context) error { _, err := b.Client(other).Put(ctx, "k", "v"); return err }); err != nil {
		t.Fatalf("the majority could not write: %v", err)
	}
	if err := b.HealPeers(ctx, old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the healed member to serve linearizable reads again", func() bool {
		return within(time.Second, func(ctx context.Context) error { _, err := b.Client(old).Get(ctx, "k"); return err }) == nil
	})
}
