package redis

import (
	"context"
	"testing"
	"time"
)

func TestACommandThatOutlivesItsDeadlineFailsInTimeAndKeepsItsConnection(t *testing.T) {
	addr, accepted := pongServerAfter(t, 80*time.Millisecond)
	c := NewClient(addr, time.Second)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	start := time.Now()
	err := c.Ping(ctx).Err()
	cancel()
	if err == nil {
		t.Fatalf("a PING answered after 80ms under a 20ms deadline succeeded")
	}
	if took := time.Since(start); took > 60*time.Millisecond {
		t.Fatalf("the caller waited %s for a 20ms deadline", took)
	}
	// The late reply is read off the connection, which goes back to the pool and serves the next command.
	time.Sleep(150 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("PING without a deadline: %v", err)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("the server accepted %d connections; the timed-out command's connection should have been reused", n)
	}
}

func TestACommandAnsweredBeforeItsDeadlineGivesTheCallerItsReply(t *testing.T) {
	addr, _ := pongServerAfter(t, 0)
	c := NewClient(addr, time.Second)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	got, err := c.Ping(ctx).Result()
	if err != nil || got != "PONG" {
		t.Fatalf("PING: got %q, %v; want PONG", got, err)
	}
}
