package netem_test

import (
	"context"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
)

func TestRepointingANodeBehindAFrontMovesItsLinksWithoutGivingUpTheirPorts(t *testing.T) {
	ctx := context.Background()
	l := &cluster.Local{}
	nodes, err := l.Start(ctx, cluster.Spec{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop(context.Background()) })
	n, err := netem.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	front, err := n.AddFront("n1", nodes[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	link, err := n.AddLink("g1", "n1", front)
	if err != nil {
		t.Fatal(err)
	}
	before := link.Addr()
	c := client(link.Addr())
	defer c.Close()
	if err := c.Set(ctx, "where", "first", 0).Err(); err != nil {
		t.Fatal(err)
	}
	second := client(nodes[1].Addr)
	defer second.Close()
	if err := second.Set(ctx, "where", "second", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for range 20 { // many moves, each closing the open connections: never a port given up
		for _, to := range []string{nodes[1].Addr, nodes[0].Addr} {
			if err := n.Repoint("n1", to); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := n.Repoint("n1", nodes[1].Addr); err != nil {
		t.Fatal(err)
	}
	var got string
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		// The connection open before the move was closed; the client redials through the same link.
		if got, err = c.Get(ctx, "where").Result(); err == nil {
			break
		}
	}
	if got != "second" {
		t.Fatalf("after the move the link reached %q (%v), want the second node", got, err)
	}
	if link.Addr() != before {
		t.Fatalf("the link moved from %s to %s", before, link.Addr())
	}
}
