package fault

import (
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/history"
)

// testEnv starts five real nodes behind links for three groups.
func testEnv(t *testing.T) *Env {
	t.Helper()
	ctx := context.Background()
	b := &cluster.Local{}
	nodes, err := b.Start(ctx, cluster.Spec{Nodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
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
	return &Env{Backend: b, Nodes: nodes, Net: nw, Groups: 3, Rand: rand.New(rand.NewPCG(1, 2))}
}

// reachable returns, per group, the nodes that answer PING through the group's links within a short timeout.
func reachable(t *testing.T, env *Env) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, l := range env.Net.Links() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: l.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true, DialTimeout: 200 * time.Millisecond})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
			defer cancel()
			if c.Ping(ctx).Err() == nil {
				mu.Lock()
				out[l.Group] = append(out[l.Group], l.Node)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// schedule decodes a fault schedule (the YAML list under a scenario's faults:) as a scenario's loader does.
func schedule(t *testing.T, list string) []Entry {
	t.Helper()
	var out []Entry
	if err := yaml.Unmarshal([]byte(list), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func inject(t *testing.T, env *Env, yaml string) Injection {
	t.Helper()
	inj, err := schedule(t, yaml)[0].Fault.Inject(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

func TestAMajorityMinorityPartitionLeavesOneGroupWithTwoNodesAndTheOthersWithThree(t *testing.T) {
	env := testEnv(t)
	inj := inject(t, env, "  - kind: partition\n    shape: majority-minority\n    groups: [g2]\n")
	r := reachable(t, env)
	if len(r["g2"]) != 2 || len(r["g1"]) != 3 || len(r["g3"]) != 3 {
		t.Fatalf("reachable during the partition: %v", r)
	}
	for _, n := range r["g2"] {
		for _, m := range r["g1"] {
			if n == m {
				t.Fatalf("minority and majority share node %s: %v", n, r)
			}
		}
	}
	if err := inj.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = reachable(t, env)
	for _, g := range []string{"g1", "g2", "g3"} {
		if len(r[g]) != 5 {
			t.Fatalf("after heal %s reaches %v", g, r[g])
		}
	}
}

func TestIsolatedGroupsReachNoNodeUntilHealedWhileTheOthersReachEveryNode(t *testing.T) {
	env := testEnv(t)
	inj := inject(t, env, "  - kind: partition\n    shape: isolate-group\n    groups: [g1, g3]\n")
	if len(inj.Targets) != 10 {
		t.Fatalf("targets %v, want the 10 links of g1 and g3", inj.Targets)
	}
	r := reachable(t, env)
	if len(r["g1"]) != 0 || len(r["g3"]) != 0 || len(r["g2"]) != 5 {
		t.Fatalf("reachable during the partition: %v", r)
	}
	if err := inj.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := reachable(t, env); len(r["g1"]) != 5 || len(r["g3"]) != 5 {
		t.Fatalf("after heal: %v", r)
	}
}

func TestAnIsolatedNodeAnswersNoGroupUntilHealed(t *testing.T) {
	env := testEnv(t)
	inj := inject(t, env, "  - kind: partition\n    shape: isolate-node\n    nodes: [n3]\n")
	if len(inj.Targets) != 3 {
		t.Fatalf("targets %v", inj.Targets)
	}
	for g, ns := range reachable(t, env) {
		for _, n := range ns {
			if n == "n3" {
				t.Fatalf("%s still reaches n3", g)
			}
		}
	}
	inj.Heal(context.Background())
	if r := reachable(t, env); len(r["g1"]) != 5 {
		t.Fatalf("after heal: %v", r)
	}
}

func TestAPartitionOfEstablishedFlowsStallsTheConnectionsOpenWhenItStartsWhileNewOnesReachTheNode(t *testing.T) {
	env := testEnv(t)
	ctx := context.Background()
	var addr string
	for _, l := range env.Net.Links() {
		if l.Group == "g1" && l.Node == "n3" {
			addr = l.Addr()
		}
	}
	old := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer old.Close()
	if err := old.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	inj := inject(t, env, "  - kind: partition\n    shape: isolate-node\n    nodes: [n3]\n    mode: hold\n    flows: established\n")
	if inj.Note == "" {
		t.Fatal("the injection does not say that only the open connections are cut")
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := old.Ping(tctx).Err()
	cancel()
	if err == nil {
		t.Fatal("a connection open when the cut started crossed it")
	}
	if r := reachable(t, env); len(r["g1"]) != 5 || len(r["g2"]) != 5 {
		t.Fatalf("new connections during the cut reach %v, want every node", r)
	}
	if err := inj.Heal(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAPausedNodeRunsItsQueuedWritesWhenResumed(t *testing.T) {
	env := testEnv(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: env.Nodes[0].Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	c.Ping(ctx)
	inj := inject(t, env, "  - kind: pause\n    nodes: [n1]\n")
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := c.Set(tctx, "late", "1", 0).Err()
	cancel()
	if err == nil {
		t.Fatal("a paused node answered")
	}
	if err := inj.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	c2 := redis.NewClient(&redis.Options{Addr: env.Nodes[0].Addr})
	defer c2.Close()
	if v, err := c2.Get(ctx, "late").Result(); err != nil || v != "1" {
		t.Fatalf("the queued write did not land after resume: %q %v", v, err)
	}
}

func TestTheNemesisInjectsOnScheduleRecordsTargetsAndHealsWhenStopped(t *testing.T) {
	env := testEnv(t)
	faults := schedule(t, "  - kind: partition\n    shape: isolate-node\n    at: 100ms\n")
	var buf syncBuffer
	hw, _ := history.NewWriter(&buf, history.NewClock(), history.Header{})
	nem, err := NewNemesis(env, hw, faults, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nem.Start(ctx)
	time.Sleep(400 * time.Millisecond)
	if a := nem.Active(); len(a) != 1 || a[0] != "partition" {
		t.Fatalf("active %v", a)
	}
	cancel()
	if err := nem.Stop(); err != nil {
		t.Fatal(err)
	}
	hw.Close()
	if r := reachable(t, env); len(r["g1"]) != 5 || len(r["g2"]) != 5 {
		t.Fatalf("not healed after Stop: %v", r)
	}
	h, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Events) != 2 || h.Events[0].Phase != "inject" || h.Events[1].Phase != "heal" || len(h.Events[0].Targets) != 3 {
		t.Fatalf("events %+v", h.Events)
	}
}

func TestAFaultTheBackendCannotDoIsRefusedBeforeTheRun(t *testing.T) {
	_, err := NewNemesis(&Env{Backend: noPause{}}, nil, schedule(t, "  - kind: pause\n"), 1, time.Second)
	if err == nil {
		t.Fatal("a pause was accepted on a backend that cannot pause")
	}
}

type noPause struct{}

func (noPause) Name() string                                                { return "external" }
func (noPause) Start(context.Context, cluster.Spec) ([]cluster.Node, error) { return nil, nil }
func (noPause) Stop(context.Context) error                                  { return nil }

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
	r  int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r >= len(s.b) {
		return 0, io.EOF
	}
	n := copy(p, s.b[s.r:])
	s.r += n
	return n, nil
}

func TestTwoOverlappingFaultsOnOneLinkEachHealOnlyTheirOwn(t *testing.T) {
	env := testEnv(t)
	// As in the reply-loss scenario: reply loss on n1, and on a drawn node that turns out to be n1 too.
	first := inject(t, env, "  - kind: reply-loss\n    nodes: [n1]\n")
	second := inject(t, env, "  - kind: reply-loss\n    nodes: [n1]\n")
	if err := first.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	for g, ns := range reachable(t, env) {
		for _, n := range ns {
			if n == "n1" {
				t.Fatalf("%s hears n1 again though the second reply loss is still on", g)
			}
		}
	}
	if err := second.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := reachable(t, env); len(r["g1"]) != 5 || len(r["g2"]) != 5 || len(r["g3"]) != 5 {
		t.Fatalf("after both heals: %v", r)
	}
}

func TestAPauseAndACrashOverlappingOnOneNodeNeitherFailsNorLeavesItFrozen(t *testing.T) {
	restart := func(t *testing.T, r cluster.Restarter) {
		t.Helper()
		if _, err := r.Restart(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// before runs before the pause is drawn, between after it and before its heal, after after the heal.
		before, between, after func(t *testing.T, r cluster.Restarter)
		wantTargets            int
	}{
		{"a pause drawn on a node a crash holds down freezes nothing and heals", kill, nil, restart, 0},
		{"a paused node crashes and the pause heals while it is still down", nil, kill, restart, 1},
		{"a paused node crashes, comes back, and the pause's heal leaves it serving", nil, func(t *testing.T, r cluster.Restarter) {
			kill(t, r)
			restart(t, r)
		}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t)
			r := env.Backend.(cluster.Restarter)
			if tc.before != nil {
				tc.before(t, r)
			}
			inj := inject(t, env, "  - kind: pause\n    nodes: [n1]\n")
			if len(inj.Targets) != tc.wantTargets {
				t.Fatalf("targets %v, want %d frozen", inj.Targets, tc.wantTargets)
			}
			if tc.between != nil {
				tc.between(t, r)
			}
			if err := inj.Heal(context.Background()); err != nil {
				t.Fatalf("heal: %v", err)
			}
			if tc.after != nil {
				tc.after(t, r)
			}
			c := redis.NewClient(&redis.Options{Addr: env.Nodes[0].Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatalf("n1 does not answer after the heal: %v", err)
			}
		})
	}
}

func kill(t *testing.T, r cluster.Restarter) {
	t.Helper()
	if err := r.Kill(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}
