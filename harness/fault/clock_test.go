package fault

import (
	"context"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// specEnv starts real nodes as spec asks, behind links for three groups. The returned stop stops the backend
// and reports any of its processes still alive.
func specEnv(t *testing.T, spec cluster.Spec) (*Env, func()) {
	t.Helper()
	ctx := context.Background()
	b := &cluster.Local{}
	nodes, err := b.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	var seen []int
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		seen = append(seen, b.PIDs()...)
		b.Stop(context.Background())
		for _, pid := range seen {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("redis-server pid %d still alive after Stop", pid)
			}
		}
	}
	t.Cleanup(stop)
	seen = append(seen, b.PIDs()...)
	nw, err := netem.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Close() })
	for _, g := range []string{"g1", "g2", "g3"} {
		for _, n := range nodes {
			if _, err := nw.AddLink(g, n.Name, n.Addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &Env{Backend: b, Nodes: nodes, Net: nw, Groups: 3, Rand: rand.New(rand.NewPCG(1, 2))}, stop
}

// clockAhead returns how far the node's TIME is ahead of real time, from the quickest of a few round trips.
func clockAhead(t *testing.T, addr string) time.Duration {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	best, bestRTT := time.Duration(0), time.Hour
	for i := 0; i < 5; i++ {
		t1 := time.Now()
		nt, err := c.Time(context.Background()).Result()
		rtt := time.Since(t1)
		if err != nil {
			t.Fatal(err)
		}
		if rtt < bestRTT {
			best, bestRTT = nt.Sub(t1.Add(rtt/2)), rtt
		}
	}
	return best
}

func about(d, want time.Duration) bool { return (d - want).Abs() < 300*time.Millisecond }

func TestAClockJumpExpiresTheLockOnItsNodeOnlyAndHealingPutsTheClockBack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	env, stop := specEnv(t, cluster.Spec{Nodes: 5, FakeClock: true})
	ctx := context.Background()
	g1n1 := redis.NewClient(&redis.Options{Addr: env.Net.Link("g1", "n1").Addr(), MaxRetries: -1})
	defer g1n1.Close()
	g1n2 := redis.NewClient(&redis.Options{Addr: env.Net.Link("g1", "n2").Addr(), MaxRetries: -1})
	defer g1n2.Close()
	for _, c := range []*redis.Client{g1n1, g1n2} {
		if err := c.Set(ctx, "lock", "holder", 30*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
	}
	inj := inject(t, env, "  - kind: clock-jump\n    nodes: [n1]\n    jump: 40s\n")
	if strings.Join(inj.Targets, ",") != "n1" {
		t.Fatalf("targets %v", inj.Targets)
	}
	if d := clockAhead(t, env.Nodes[0].Addr); !about(d, 40*time.Second) {
		t.Fatalf("n1's clock is %s ahead after a 40s jump", d)
	}
	if n, err := g1n1.Exists(ctx, "lock").Result(); err != nil || n != 0 {
		t.Fatalf("a lock with 30s to live survived a 40s jump: exists=%d %v", n, err)
	}
	if ttl, err := g1n2.PTTL(ctx, "lock").Result(); err != nil || ttl < 25*time.Second {
		t.Fatalf("the lock on n2 was touched: pttl %s %v", ttl, err)
	}
	if d := clockAhead(t, env.Nodes[1].Addr); !about(d, 0) {
		t.Fatalf("n2's clock moved: %s", d)
	}
	if err := inj.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if d := clockAhead(t, env.Nodes[0].Addr); !about(d, 0) {
		t.Fatalf("after heal n1's clock is %s off real time", d)
	}
	stop()
}

func TestAClockStrobeJumpsBackAndForthUntilHealed(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	env, stop := specEnv(t, cluster.Spec{Nodes: 5, FakeClock: true})
	inj := inject(t, env, "  - kind: clock-strobe\n    nodes: [n2]\n    jump: 10s\n    period: 400ms\n")
	ahead, real := 0, 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		switch d := clockAhead(t, env.Nodes[1].Addr); {
		case about(d, 10*time.Second):
			ahead++
		case about(d, 0):
			real++
		default:
			t.Fatalf("n2's clock is %s ahead: neither jumped nor real", d)
		}
	}
	if ahead < 3 || real < 3 {
		t.Fatalf("in 2s of a 400ms strobe the clock was ahead %d times and real %d times", ahead, real)
	}
	if err := inj.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if d := clockAhead(t, env.Nodes[1].Addr); !about(d, 0) {
			t.Fatalf("after heal n2's clock is %s off real time", d)
		}
		time.Sleep(300 * time.Millisecond)
	}
	stop()
}

func TestClockFaultsAndFailoverAreRefusedOnABackendThatCannotDoThem(t *testing.T) {
	for _, entry := range []string{
		"  - kind: clock-jump\n    jump: 5s\n",
		"  - kind: clock-strobe\n    jump: 5s\n    period: 1s\n",
		"  - kind: failover\n",
	} {
		if _, err := NewNemesis(&Env{Backend: noPause{}}, nil, schedule(t, entry), 1, time.Second); err == nil {
			t.Errorf("accepted on a backend that cannot do it:\n%s", entry)
		}
	}
}
