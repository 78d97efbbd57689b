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

func TestACommandThatFindsEveryConnectionBusyAndItsDeadlinePassedIsNeverSent(t *testing.T) {
	addr, _, pings := countingServer(t, time.Second)
	c := NewClient(addr, time.Second) // four connections
	defer c.Close()
	// Four commands outlive their deadlines: each keeps its connection, waiting a second for its late reply.
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatal("a PING answered after 1s succeeded under a 30ms deadline")
		}
		cancel()
	}
	// A fifth finds no idle connection: it waits for one until its deadline, then its caller has given up on it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	start := time.Now()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a fifth PING succeeded with every connection busy")
	}
	cancel()
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("the caller waited %s for a 30ms deadline", took)
	}
	time.Sleep(3 * time.Second) // the four late replies come and free their connections: a fifth PING sent then is counted
	if n := pings.Load(); n != 4 {
		t.Fatalf("the server received %d PINGs; want 4: a command given up on before it had a connection must never be sent", n)
	}
}
