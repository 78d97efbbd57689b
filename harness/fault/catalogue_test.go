package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
)

func TestABridgePartitionGivesTwoSidesMajoritiesSharingOneNode(t *testing.T) {
	env := testEnv(t)
	inj := inject(t, env, "  - kind: partition\n    shape: bridge\n    nodes: [n1]\n")
	defer inj.Heal(context.Background())
	r := reachable(t, env)
	for _, g := range []string{"g1", "g2", "g3"} {
		sort.Strings(r[g])
	}
	if strings.Join(r["g1"], ",") != "n1,n2,n3" || strings.Join(r["g2"], ",") != "n1,n4,n5" || strings.Join(r["g3"], ",") != "n1,n2,n3" {
		t.Fatalf("reachable: %v", r)
	}
}

func TestRandomHalvesCutEveryLinkAcrossTheSplit(t *testing.T) {
	env := testEnv(t)
	inj := inject(t, env, "  - kind: partition\n    shape: random-halves\n")
	defer inj.Heal(context.Background())
	r := reachable(t, env)
	total := 0
	for _, ns := range r {
		total += len(ns)
		if len(ns) != 2 && len(ns) != 3 {
			t.Fatalf("a group reaches %d nodes: %v", len(ns), r)
		}
	}
	if total+len(inj.Targets) != 15 {
		t.Fatalf("%d reachable + %d cut links != 15", total, len(inj.Targets))
	}
}

func TestReplyLossAppliesTheCommandButTheClientSeesAnError(t *testing.T) {
	env := testEnv(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: env.Net.Link("g1", "n2").Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil { // connect (and handshake) before the replies vanish
		t.Fatal(err)
	}
	inj := inject(t, env, "  - kind: reply-loss\n    nodes: [n2]\n    groups: [g1]\n")
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Set(tctx, "applied", "yes", 0).Err()
	cancel()
	if err == nil {
		t.Fatal("the reply arrived")
	}
	inj.Heal(ctx)
	direct := redis.NewClient(&redis.Options{Addr: env.Nodes[1].Addr})
	defer direct.Close()
	if v, err := direct.Get(ctx, "applied").Result(); err != nil || v != "yes" {
		t.Fatalf("the write is not in Redis: %q %v", v, err)
	}
}

func crashAndRead(t *testing.T, persistence string) error {
	t.Helper()
	env := testEnv(t)
	if persistence != "none" {
		// A separate backend with the persistence under test.
		b := &cluster.Local{}
		nodes, err := b.Start(context.Background(), cluster.Spec{Nodes: 5, Persistence: persistence})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Stop(context.Background()) })
		env.Backend, env.Nodes = b, nodes
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: env.Nodes[0].Addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "lock", "token", 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	inj := inject(t, env, "  - kind: crash-restart\n    nodes: [n1]\n")
	if err := inj.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	return c.Get(ctx, "lock").Err()
}

func TestACrashWithoutPersistenceRestartsTheNodeEmpty(t *testing.T) {
	if err := crashAndRead(t, "none"); err != redis.Nil {
		t.Fatalf("the key survived: %v", err)
	}
}

func TestACrashWithAOFAlwaysKeepsTheKey(t *testing.T) {
	if err := crashAndRead(t, "aof-always"); err != nil {
		t.Fatalf("the key was lost: %v", err)
	}
}

func TestADelayedRestartKeepsTheNodeDownUntilTheDelayHasPassed(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	env := testEnv(t)
	ctx := context.Background()
	inj := inject(t, env, "  - kind: crash-restart\n    nodes: [n1]\n    delay: 600ms\n")
	c := redis.NewClient(&redis.Options{Addr: env.Nodes[0].Addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	if c.Ping(ctx).Err() == nil {
		t.Fatal("the node answered before its delay")
	}
	time.Sleep(1500 * time.Millisecond)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the node is not back after its delay: %v", err)
	}
	if err := inj.Heal(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAMajoritiesRingGivesEveryGroupADifferentMajorityWithNoNodeInAll(t *testing.T) {
	env := testEnv(t)
	inj := inject(t, env, "  - kind: partition\n    shape: majorities-ring\n")
	defer inj.Heal(context.Background())
	r := reachable(t, env)
	checkRing(t, r, []string{"g1", "g2", "g3"}, 5)
}

func TestTheMajoritiesRingsWindowsDifferForEveryGroupCountUpToTheNodes(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	for _, tc := range []struct {
		name   string
		groups int
	}{
		{"two groups see two majorities that share one node, as a bridge", 2},
		{"three groups see three majorities", 3},
		{"five groups see five majorities, one window per position of the ring", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				var groups []string
				for i := 1; i <= tc.groups; i++ {
					groups = append(groups, fmt.Sprintf("g%d", i))
				}
				cut := majoritiesRing(nil, &Env{Rand: rand.New(rand.NewPCG(seed, 0))}, nodes, groups)
				r := map[string][]string{}
				for _, g := range groups {
					for _, n := range nodes {
						if !slices.Contains(cut, netem.LinkName(g, n)) {
							r[g] = append(r[g], n)
						}
					}
				}
				checkRing(t, r, groups, len(nodes))
			}
		})
	}
}

// checkRing checks that every group reaches a bare majority, that no two groups reach the same nodes, that any
// two overlap, and, with more than two groups, that no node is reached by all.
func checkRing(t *testing.T, r map[string][]string, groups []string, nodes int) {
	t.Helper()
	seen := map[string]string{}
	count := map[string]int{}
	for _, g := range groups {
		sort.Strings(r[g])
		if len(r[g]) != nodes/2+1 {
			t.Fatalf("%s reaches %v, not a bare majority: %v", g, r[g], r)
		}
		key := strings.Join(r[g], ",")
		if other, ok := seen[key]; ok {
			t.Fatalf("%s and %s reach the same nodes: %v", other, g, r)
		}
		seen[key] = g
		for _, n := range r[g] {
			count[n]++
		}
		for _, h := range groups {
			if h != g && len(r[h]) > 0 && !overlap(r[g], r[h]) {
				t.Fatalf("%s and %s share no node: %v", g, h, r)
			}
		}
	}
	for n, c := range count {
		if len(groups) > 2 && c == len(groups) {
			t.Fatalf("%s is reached by every group: %v", n, r)
		}
	}
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
