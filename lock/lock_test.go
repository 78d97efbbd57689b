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

// nodes starts n real redis-server processes and returns a client per node.
func nodes(t *testing.T, n int) (*cluster.Local, []redis.UniversalClient) {
	t.Helper()
	b := &cluster.Local{}
	ns, err := b.Start(context.Background(), cluster.Spec{Nodes: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	var out []redis.UniversalClient
	for _, nd := range ns {
		c := redis.NewClient(&redis.Options{Addr: nd.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return b, out
}

// mk builds a locker with no retries and a generous per-node timeout (unless opts say otherwise): the default,
// TTL/20, is a few tens of milliseconds, which a loaded test machine can exceed, and a test that is not about
// timeouts must not see one.
func mk(name string, cs []redis.UniversalClient, opts ...lock.Option) lock.Locker {
	info, err := lock.Lookup(name)
	if err != nil {
		panic(err)
	}
	base := []lock.Option{lock.WithRetries(0, time.Millisecond), lock.WithNodeTimeout(250 * time.Millisecond)}
	return info.Make().(lock.RedisStrategy).New(cs, lock.NewOptions(append(base, opts...)...))
}

func TestSetnxDelDeletesALockThatAnotherClientNowHolds(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 1)
	a := mk("setnx-del", cs, lock.WithTTL(100*time.Millisecond))
	b := mk("setnx-del", cs, lock.WithTTL(10*time.Second))
	la, err := a.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // A's lock expires
	if _, err := b.Acquire(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatalf("A's release: %v", err)
	}
	if n, _ := cs[0].Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("B's lock survived A's release: setnx-del is not what article [A] describes")
	}
}

func TestLuaReleasesAndExtendsOnlyItsOwnLock(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 1)
	a := mk("lua", cs, lock.WithTTL(100*time.Millisecond))
	b := mk("lua", cs, lock.WithTTL(10*time.Second))
	la, err := a.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("B acquired a held lock: %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := b.Acquire(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("A's release of B's lock: %v", err)
	}
	if err := la.Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("A's extend of B's lock: %v", err)
	}
	if n, _ := cs[0].Exists(ctx, "k").Result(); n != 1 {
		t.Fatal("B's lock is gone")
	}
}

func TestRedlockNeedsAMajority(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		killed int
		ok     bool
	}{
		{"three of five nodes up grant the lock", 2, true},
		{"two of five nodes up refuse it", 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, cs := nodes(t, 5)
			for i := 0; i < tc.killed; i++ {
				b.Kill(ctx, 4-i)
			}
			_, err := mk("redlock", cs).Acquire(ctx, "k")
			if (err == nil) != tc.ok {
				t.Fatalf("acquire: %v", err)
			}
			if !tc.ok {
				for i := 0; i < 5-tc.killed; i++ {
					if n, _ := cs[i].Exists(ctx, "k").Result(); n != 0 {
						t.Fatalf("node %d still holds the partial lock", i+1)
					}
				}
			}
		})
	}
}

func TestRedlockRefusesALockWhoseAcquisitionAteTheValidityAndReleasesTheNodesItGot(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	// A local clock that jumps a second each time it is read: acquisition appears to take longer than the TTL.
	now := time.Now()
	clock := func() time.Time { now = now.Add(time.Second); return now }
	_, err := mk("redlock", cs, lock.WithTTL(500*time.Millisecond), lock.WithClock(clock)).Acquire(ctx, "k")
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("acquire: %v", err)
	}
	for i, c := range cs {
		if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
			t.Fatalf("node %d still holds the lock after a refused acquisition", i+1)
		}
	}
}

func TestRedlockValidityIsTTLMinusElapsedMinusDrift(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	start := time.Now()
	l, err := mk("redlock", cs, lock.WithTTL(time.Second)).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	left := l.ValidUntil().Sub(start)
	if left > time.Second-11*time.Millisecond || left < 900*time.Millisecond {
		t.Fatalf("validity %s from the start of acquire", left)
	}
}
