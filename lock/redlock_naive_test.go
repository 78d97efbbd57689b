package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/lock"
)

func TestRedlockNaiveSlowAcquisitionStillBelievesInAFullTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	b, cs := nodes(t, 5)
	ttl := 2 * time.Second
	slow := time.Second
	// The fourth node is frozen: with no per-node timeout, the client waits on it for as long as its own context
	// lets it, while the keys set on the first three count down.
	resumeOnCleanup(t, b, 3)
	if err := b.Pause(ctx, 3); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, slow)
	defer cancel()
	start := time.Now()
	lease, err := mk("redlock-naive", cs, lock.WithTTL(ttl)).Acquire(actx, "k")
	if err != nil {
		t.Fatalf("acquire: %v; three of five nodes granted it", err)
	}
	if took := time.Since(start); took < slow {
		t.Fatalf("acquisition took %s; it should have waited on the frozen node until its context ended (%s)", took, slow)
	}
	believed := time.Until(lease.ValidUntil())
	left := time.Duration(pttl(t, cs[0], "k")) * time.Millisecond
	if believed < ttl-200*time.Millisecond {
		t.Fatalf("the holder believes in %s; article [B] computes no validity, so it should believe in the full TTL %s", believed, ttl)
	}
	// The key was set a moment after the context's clock started, and PTTL rounds to the millisecond: allow a
	// little over ttl-slow.
	if left > ttl-slow+50*time.Millisecond {
		t.Fatalf("node 1's key has %s left, want at most about %s", left, ttl-slow)
	}
	if believed-left < slow-200*time.Millisecond {
		t.Fatalf("believed %s, node 1 has %s: the belief should outlast the key by about the acquisition time (%s)", believed, left, slow)
	}
}

func TestRedlockNaiveFailedAttemptLeavesItsPartialLocks(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, b *cluster.Local, cs []redis.UniversalClient)
		definite bool
	}{
		{"three nodes held by another client: not acquired", func(t *testing.T, _ *cluster.Local, cs []redis.UniversalClient) {
			for _, c := range cs[2:] {
				if err := c.Set(context.Background(), "k", "other", 10*time.Second).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}, true},
		{"three nodes down: indeterminate", func(t *testing.T, b *cluster.Local, _ []redis.UniversalClient) {
			for i := 2; i < 5; i++ {
				if err := b.Kill(context.Background(), i); err != nil {
					t.Fatal(err)
				}
			}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b, cs := nodes(t, 5)
			tc.setup(t, b, cs)
			_, err := mk("redlock-naive", cs, lock.WithTTL(10*time.Second)).Acquire(ctx, "k")
			if err == nil {
				t.Fatal("acquired with two of five nodes")
			}
			if lock.IsDefinite(err) != tc.definite || (tc.definite && !errors.Is(err, lock.ErrNotAcquired)) {
				t.Fatalf("acquire: %v (definite: %v), want definite = %v", err, lock.IsDefinite(err), tc.definite)
			}
			for i := range 2 {
				if v, p := get(t, cs[i], "k"), pttl(t, cs[i], "k"); v == "" || v == "other" || p <= 0 {
					t.Fatalf("node %d: value %q, PTTL %d: the failed attempt's partial lock should still be there", i+1, v, p)
				}
			}
			// Nobody can take the lock until the partial locks expire.
			if _, err := mk("redlock-naive", cs[:2]).Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("another client on nodes 1-2: %v, want ErrNotAcquired", err)
			}
		})
	}
}

func TestRedlockNaiveReleaseFreesOnlyTheFirstNode(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	lease, err := mk("redlock-naive", cs, lock.WithTTL(10*time.Second)).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if exists(t, cs[0], "k") {
		t.Fatal("node 1 still holds the lock after release")
	}
	for i := 1; i < 5; i++ {
		if !exists(t, cs[i], "k") {
			t.Fatalf("node %d was released: article [B]'s loop releases on the default client only", i+1)
		}
	}
	if _, err := mk("redlock-naive", cs).Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("a new client after the release: %v, want ErrNotAcquired (four nodes still locked)", err)
	}
}

func TestRedlockNaiveExtendRenewsOnlyTheFirstNode(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	lease, err := mk("redlock-naive", cs, lock.WithTTL(10*time.Second)).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if err := c.PExpire(ctx, "k", 5*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := lease.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if p := pttl(t, cs[0], "k"); p <= 5000 {
		t.Fatalf("node 1: PTTL %d ms, want renewed to 10 s", p)
	}
	for i := 1; i < 5; i++ {
		if p := pttl(t, cs[i], "k"); p > 5000 {
			t.Fatalf("node %d: PTTL %d ms: only the default client is renewed", i+1, p)
		}
	}
}
