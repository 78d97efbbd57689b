package fault

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

func TestAFailoverAfterReplicationLagLosesTheLastAcknowledgedWriteAndRepointsEveryGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	env, stop := specEnv(t, cluster.Spec{Nodes: 5, Replicas: true})
	ctx := context.Background()
	b := env.Backend.(*cluster.Local)
	if n := len(b.PIDs()); n != 10 {
		t.Fatalf("five nodes with replicas run %d processes, want 10", n)
	}
	oldAddr := env.Nodes[0].Addr
	g1 := redis.NewClient(&redis.Options{Addr: env.Net.Link("g1", "n1").Addr(), MaxRetries: -1})
	defer g1.Close()
	if err := g1.Set(ctx, "before", "replicated", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := g1.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not acknowledge: %d %v", n, err)
	}
	type result struct {
		inj Injection
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := parseFault("  - kind: failover\n    nodes: [n1]\n    lag: 1500ms\n")
		if err != nil {
			done <- result{err: err}
			return
		}
		inj, err := f.Inject(ctx, env)
		done <- result{inj, err}
	}()
	time.Sleep(300 * time.Millisecond) // the replica is cut off by now; the primary still serves
	if err := g1.Set(ctx, "lock", "acknowledged", 30*time.Second).Err(); err != nil {
		t.Fatalf("the primary did not acknowledge the write: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.Join(r.inj.Targets, ",") != "n1" {
		t.Fatalf("targets %v", r.inj.Targets)
	}
	if env.Nodes[0].Addr == oldAddr {
		t.Fatal("the node's address did not change to the promoted replica's")
	}
	for _, g := range []string{"g1", "g2", "g3"} {
		c := redis.NewClient(&redis.Options{Addr: env.Net.Link(g, "n1").Addr(), MaxRetries: -1})
		info, err := c.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "role:master") {
			t.Fatalf("%s->n1 does not reach a promoted primary: %v %q", g, err, info)
		}
		if v, err := c.Get(ctx, "before").Result(); err != nil || v != "replicated" {
			t.Fatalf("%s: the promoted replica lacks a replicated write: %q %v", g, v, err)
		}
		if err := c.Get(ctx, "lock").Err(); err != redis.Nil {
			t.Fatalf("%s: the promoted replica has the write acknowledged during the lag: %v", g, err)
		}
		c.Close()
	}
	old := redis.NewClient(&redis.Options{Addr: oldAddr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer old.Close()
	if old.Ping(ctx).Err() == nil {
		t.Fatal("the old primary still answers")
	}
	if err := r.inj.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
}

func TestAFailoverWithoutLagKeepsWhatTheReplicaAcknowledged(t *testing.T) {
	env, stop := specEnv(t, cluster.Spec{Nodes: 5, Replicas: true})
	ctx := context.Background()
	g2 := redis.NewClient(&redis.Options{Addr: env.Net.Link("g2", "n3").Addr(), MaxRetries: -1})
	defer g2.Close()
	if err := g2.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := g2.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not acknowledge: %d %v", n, err)
	}
	inj := inject(t, env, "  - kind: failover\n    nodes: [n3]\n")
	if v, err := g2.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("a write the replica acknowledged was lost: %q %v", v, err)
	}
	// The node fails over again onto the replica started in place of the promoted one.
	if err := g2.Set(ctx, "k2", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := g2.Do(ctx, "WAIT", 1, 15000).Int(); err != nil || n != 1 {
		t.Fatalf("no new replica acknowledged: %d %v", n, err)
	}
	inj.Heal(ctx)
	inject(t, env, "  - kind: failover\n    nodes: [n3]\n")
	if v, err := g2.Get(ctx, "k2").Result(); err != nil || v != "v2" {
		t.Fatalf("after a second failover: %q %v", v, err)
	}
	stop()
}

// parseFault decodes one fault entry; unlike schedule, it may run off the test's goroutine.
func parseFault(list string) (Fault, error) {
	var out []Entry
	if err := yaml.Unmarshal([]byte(list), &out); err != nil {
		return nil, err
	}
	return out[0].Fault, nil
}
