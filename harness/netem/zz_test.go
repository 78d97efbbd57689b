package netem_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

func TestZZZombie(t *testing.T) {
	ctx := context.Background()
	_, link := startOne(t)
	c := client(link.Addr())
	defer c.Close()
	// open 4 pooled connections
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.Ping(ctx) }()
	}
	wg.Wait()
	t.Logf("pool %+v", c.PoolStats())
	link.AddToxic(netem.Toxic{Name: "rl", Type: "timeout", Stream: netem.Downstream, Attributes: map[string]any{"timeout": 0}})
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	go c.Set(tctx, "x", "1", 0)
	time.Sleep(200 * time.Millisecond)
	link.RemoveToxic(ctx, "rl")
	cancel()
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 12; i++ {
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := c.Set(tctx, "k", i, 0).Err()
		cancel()
		t.Logf("cmd %d: %v", i, err)
	}
	t.Logf("pool %+v", c.PoolStats())
}
