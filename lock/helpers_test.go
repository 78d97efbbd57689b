package lock_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// waitFor polls cond until it holds, failing the test after within: a bound on how long a mechanism may take,
// never a guess at how long it does.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client opens a client of its own to the node c talks to, with the worker's settings, so that a test can close
// it without closing c.
func client(t *testing.T, c redis.UniversalClient) *redis.Client {
	t.Helper()
	own := redis.NewClient(&redis.Options{Addr: c.(*redis.Client).Options().Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { own.Close() })
	return own
}

// deadNode is a client of an address nobody listens on: every command fails at once (connection refused).
func deadNode(t *testing.T) redis.UniversalClient {
	t.Helper()
	port, err := cluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1,
		ContextTimeoutEnabled: true, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

func exists(t *testing.T, c redis.UniversalClient, key string) bool {
	t.Helper()
	n, err := c.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// pttl is the key's remaining time to live in milliseconds, -1 for a key with none and -2 for no key.
func pttl(t *testing.T, c redis.UniversalClient, key string) int64 {
	t.Helper()
	n, err := c.Do(context.Background(), "PTTL", key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, c redis.UniversalClient, key string) string {
	t.Helper()
	v, err := c.Get(context.Background(), key).Result()
	if err == redis.Nil {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// resumeOnCleanup resumes a paused node before the backend stops, so that a failing test leaves nothing frozen.
func resumeOnCleanup(t *testing.T, b *cluster.Local, node int) {
	t.Cleanup(func() { _ = b.Resume(context.Background(), node) })
}
