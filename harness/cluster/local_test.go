package cluster

import (
	"context"
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
