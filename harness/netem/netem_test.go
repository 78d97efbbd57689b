package netem_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
)

func startOne(t *testing.T) (*netem.Net, *netem.Link) {
	t.Helper()
	l := &cluster.Local{}
	nodes, err := l.Start(context.Background(), cluster.Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop(context.Background()) })
	n, err := netem.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	link, err := n.AddLink("g1", "n1", nodes[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	return n, link
}

func client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
}

func TestABlackholedLinkHangsCommandsUntilHealedThenClientsRedial(t *testing.T) {
	ctx := context.Background()
	_, link := startOne(t)
	c := client(link.Addr())
	defer c.Close()
	if err := c.Set(ctx, "k", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []netem.Stream{netem.Upstream, netem.Downstream} {
		if err := link.AddToxic(netem.Toxic{Name: "cut-" + string(s), Type: "timeout", Stream: s, Attributes: map[string]any{"timeout": 0}}); err != nil {
			t.Fatal(err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Get(tctx, "k").Err()
	cancel()
	if err == nil {
		t.Fatal("a command crossed a cut link")
	}
	link.RemoveToxic(ctx, "cut-upstream")
	link.RemoveToxic(ctx, "cut-downstream")
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "1" {
		t.Fatalf("after heal: %q, %v", v, err)
	}
}

func TestALatencyToxicDelaysEveryRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, link := startOne(t)
	c := client(link.Addr())
	defer c.Close()
	c.Ping(ctx)
	attrs := map[string]any{"latency": 100, "jitter": 0}
	link.AddToxic(netem.Toxic{Name: "l-up", Type: "latency", Stream: netem.Upstream, Attributes: attrs})
	link.AddToxic(netem.Toxic{Name: "l-down", Type: "latency", Stream: netem.Downstream, Attributes: attrs})
	start := time.Now()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt < 190*time.Millisecond {
		t.Fatalf("round trip %s with 100ms each way", rtt)
	}
}

func TestSetUpstreamRepointsALinkAtARestartedNode(t *testing.T) {
	ctx := context.Background()
	_, link := startOne(t)
	other := &cluster.Local{}
	nodes, err := other.Start(ctx, cluster.Spec{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop(ctx)
	direct := client(nodes[0].Addr)
	defer direct.Close()
	direct.Set(ctx, "where", "other", 0)
	if err := link.SetUpstream(nodes[0].Addr); err != nil {
		t.Fatal(err)
	}
	c := client(link.Addr())
	defer c.Close()
	if v, _ := c.Get(ctx, "where").Result(); v != "other" {
		t.Fatalf("link still reaches the old node: %q", v)
	}
}
