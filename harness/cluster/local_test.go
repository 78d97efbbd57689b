package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestLocalBackendStartsAnsweringNodesAndStopsThemAll(t *testing.T) {
	ctx := context.Background()
	l := &Local{}
	nodes, err := l.Start(ctx, Spec{Nodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	pids := l.PIDs()
	if len(nodes) != 5 || len(pids) != 5 {
		t.Fatalf("got %d nodes, %d pids", len(nodes), len(pids))
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
		c.Close()
	}
	l.Stop(ctx)
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
}

func TestLocalBackendKillLosesDataAndRestartComesBackOnTheSamePort(t *testing.T) {
	ctx := context.Background()
	l := &Local{}
	nodes, err := l.Start(ctx, Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop(ctx)
	c := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	addr, err := l.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if addr != nodes[0].Addr {
		t.Fatalf("restarted at %s, was %s", addr, nodes[0].Addr)
	}
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("key survived a restart without persistence: %v", err)
	}
}

func TestLocalBackendPauseQueuesCommandsUntilResume(t *testing.T) {
	ctx := context.Background()
	l := &Local{}
	nodes, err := l.Start(ctx, Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop(ctx)
	c := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = c.Ping(tctx).Err()
	cancel()
	if err == nil {
		t.Fatal("a paused node answered")
	}
	if err := l.Resume(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

// nodeClockAhead returns how far the node's wall clock (TIME) is ahead of real time.
func nodeClockAhead(t *testing.T, addr string) time.Duration {
	t.Helper()
	d, _, err := nodeTimeMinusReal(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(d, want time.Duration) bool { return (d - want).Abs() < 250*time.Millisecond }

// checkClockJump holds a backend's fake clock to what the clock faults need, on two nodes started with FakeClock:
// both start on real time; a 40 s jump on n1 expires there a key that had 30 s to live, and only there; healing
// puts n1 back on real time, where a fresh key gets its full TTL.
func checkClockJump(t *testing.T, b ClockSkewer, nodes []Node) {
	t.Helper()
	ctx := context.Background()
	for _, n := range nodes {
		if d := nodeClockAhead(t, n.Addr); !near(d, 0) {
			t.Fatalf("%s starts %s off real time", n.Name, d)
		}
	}
	c1 := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1})
	defer c1.Close()
	c2 := redis.NewClient(&redis.Options{Addr: nodes[1].Addr, MaxRetries: -1})
	defer c2.Close()
	for _, c := range []*redis.Client{c1, c2} {
		if err := c.Set(ctx, "lock", "holder", 30*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetClockOffset(ctx, 0, 40*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 40*time.Second) {
		t.Fatalf("after a +40s jump n1 is %s ahead", d)
	}
	if n, err := c1.Exists(ctx, "lock").Result(); err != nil || n != 0 {
		t.Fatalf("a key with 30s to live survived a 40s jump: exists=%d %v", n, err)
	}
	if ttl, err := c2.PTTL(ctx, "lock").Result(); err != nil || ttl < 25*time.Second {
		t.Fatalf("the jump reached the other node: pttl %s %v", ttl, err)
	}
	if d := nodeClockAhead(t, nodes[1].Addr); !near(d, 0) {
		t.Fatalf("n2 moved: %s", d)
	}
	if err := b.SetClockOffset(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 0) {
		t.Fatalf("after healing n1 is %s off real time", d)
	}
	if err := c1.Set(ctx, "lock", "holder", 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c1.PTTL(ctx, "lock").Result(); err != nil || ttl < 29*time.Second {
		t.Fatalf("a fresh key on the healed node: pttl %s %v", ttl, err)
	}
}

func TestAFakeClockJumpExpiresAKeyEarlyAndHealingPutsTheClockBack(t *testing.T) {
	ctx := context.Background()
	l := &Local{}
	nodes, err := l.Start(ctx, Spec{Nodes: 2, FakeClock: true})
	if err != nil {
		t.Fatal(err)
	}
	pids := l.PIDs()
	defer func() {
		l.Stop(ctx)
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("pid %d still alive after Stop", pid)
			}
		}
	}()
	checkClockJump(t, l, nodes)
	if err := l.SetClockOffset(ctx, 0, 1500*time.Millisecond); err == nil {
		t.Fatal("a sub-second offset was accepted")
	}
}

func TestACrashRestartedNodeKeepsItsFakeClockAndOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	l := &Local{}
	nodes, err := l.Start(ctx, Spec{Nodes: 1, FakeClock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop(ctx)
	if err := l.SetClockOffset(ctx, 0, 7*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 7*time.Second) {
		t.Fatalf("the restarted node is %s ahead, want 7s", d)
	}
	time.Sleep(1200 * time.Millisecond) // the fake clock runs at the real rate
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 7*time.Second) {
		t.Fatalf("a second later the restarted node is %s ahead, want 7s", d)
	}
	if err := l.SetClockOffset(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 0) {
		t.Fatalf("healed: %s", d)
	}
}

func TestWithoutAFakeClockSetClockOffsetIsRefused(t *testing.T) {
	ctx := context.Background()
	l := &Local{}
	if _, err := l.Start(ctx, Spec{Nodes: 1}); err != nil {
		t.Fatal(err)
	}
	defer l.Stop(ctx)
	if err := l.SetClockOffset(ctx, 0, time.Second); err == nil {
		t.Fatal("accepted")
	}
}

func replicaAddr(t *testing.T, l *Local, i int) string {
	t.Helper()
	n, _, err := l.replLink(context.Background(), i)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return n.replica.addr()
}

func TestFailoverPromotesAReplicaThatLacksTheWritesItHadNotReceived(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	l := &Local{}
	nodes, err := l.Start(ctx, Spec{Nodes: 1, Replicas: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	var seen []int
	defer func() {
		if !stopped {
			l.Stop(ctx)
		}
	}()
	pids := l.PIDs()
	if len(pids) != 2 {
		t.Fatalf("a node with a replica runs %d processes", len(pids))
	}
	seen = append(seen, pids...)
	primary := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1})
	defer primary.Close()
	if err := primary.Set(ctx, "before", "replicated", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := primary.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not acknowledge: %d %v", n, err)
	}
	if err := l.StallReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := primary.Set(ctx, "lock", "acknowledged", 30*time.Second).Err(); err != nil {
		t.Fatalf("the primary did not acknowledge the last write: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // ample for loopback replication, had the link not been cut
	addr, err := l.Failover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if addr == nodes[0].Addr {
		t.Fatal("the promoted replica has the primary's address")
	}
	if syscall.Kill(pids[0], 0) == nil {
		t.Fatalf("the old primary (pid %d) is still alive", pids[0])
	}
	promoted := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer promoted.Close()
	if v, err := promoted.Get(ctx, "before").Result(); err != nil || v != "replicated" {
		t.Fatalf("the promoted replica lacks a replicated write: %q %v", v, err)
	}
	if err := promoted.Get(ctx, "lock").Err(); err != redis.Nil {
		t.Fatalf("the promoted replica has the write the primary acknowledged after replication stalled: %v", err)
	}
	if err := promoted.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Fatalf("the promoted replica does not take writes: %v", err)
	}
	// A new replica follows the promoted node, so it can fail over again, this time with replication flowing.
	if n, err := promoted.Do(ctx, "WAIT", 1, 15000).Int(); err != nil || n != 1 {
		t.Fatalf("no new replica acknowledged: %d %v", n, err)
	}
	replicaAddr(t, l, 0) // the new replica is registered once its first synchronisation is seen
	seen = append(seen, l.PIDs()...)
	if len(l.PIDs()) != 2 {
		t.Fatalf("after failover %d processes run, want 2", len(l.PIDs()))
	}
	addr2, err := l.Failover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	again := redis.NewClient(&redis.Options{Addr: addr2, MaxRetries: -1})
	defer again.Close()
	if v, err := again.Get(ctx, "after").Result(); err != nil || v != "1" {
		t.Fatalf("a replicated write was lost in the second failover: %q %v", v, err)
	}
	replicaAddr(t, l, 0) // waits for the third replica
	seen = append(seen, l.PIDs()...)
	l.Stop(ctx)
	stopped = true
	for _, pid := range seen {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
	if left := childProcesses(t); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
}

func TestStopDuringAReplacementReplicaStartLeavesNoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	l := &Local{}
	if _, err := l.Start(ctx, Spec{Nodes: 2, Replicas: true, FakeClock: true}); err != nil {
		t.Fatal(err)
	}
	pids := l.PIDs()
	if len(pids) != 4 {
		t.Fatalf("%d processes, want 4", len(pids))
	}
	if _, err := l.Failover(ctx, 1); err != nil {
		t.Fatal(err)
	}
	l.Stop(ctx) // the replacement replica is still being started: the fake clock holds it up to a second
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
	if left := childProcesses(t); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
}

// childProcesses lists the live child processes of the test binary (every redis-server a backend starts is one).
func childProcesses(t *testing.T) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 && fields[0] != "Z" && fields[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, s[:i+1])
		}
	}
	return out
}
