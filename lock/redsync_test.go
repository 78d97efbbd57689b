package lock_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redsync/redsync/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/lock"
)

// setCalls is how many SET commands the node has executed since its statistics were last reset.
func setCalls(t *testing.T, c redis.UniversalClient) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_set:calls=(\d+)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestRedsyncAcquireMapsItsErrorsOntoTheSentinels(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, b *cluster.Local, cs []redis.UniversalClient)
		check func(t *testing.T, err error, cs []redis.UniversalClient)
	}{
		{
			name: "a lock held on every node gives up after its tries as ErrNotAcquired with redsync's error",
			setup: func(t *testing.T, _ *cluster.Local, cs []redis.UniversalClient) {
				for _, c := range cs {
					if err := c.Set(context.Background(), "k", "other", 10*time.Second).Err(); err != nil {
						t.Fatal(err)
					}
					if err := c.ConfigResetStat(context.Background()).Err(); err != nil {
						t.Fatal(err)
					}
				}
			},
			check: func(t *testing.T, err error, cs []redis.UniversalClient) {
				var taken *redsync.ErrTaken
				if !errors.Is(err, lock.ErrNotAcquired) || !errors.As(err, &taken) {
					t.Fatalf("acquire: %v, want ErrNotAcquired wrapping redsync's *ErrTaken", err)
				}
				if !strings.Contains(err.Error(), "lock already taken") {
					t.Fatalf("redsync's own message is not visible in %q", err)
				}
				if n := setCalls(t, cs[0]); n != 3 {
					t.Fatalf("node 1 saw %d SETs, want 3 (WithRetries(2): three tries)", n)
				}
			},
		},
		{
			name: "a lock held by another redsync client is ErrNotAcquired",
			setup: func(t *testing.T, _ *cluster.Local, cs []redis.UniversalClient) {
				if _, err := mk("redsync", cs).Acquire(context.Background(), "k"); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, err error, _ []redis.UniversalClient) {
				if !errors.Is(err, lock.ErrNotAcquired) {
					t.Fatalf("acquire: %v, want ErrNotAcquired", err)
				}
			},
		},
		{
			name: "three nodes down is indeterminate, with redsync's node errors",
			setup: func(t *testing.T, b *cluster.Local, _ []redis.UniversalClient) {
				for i := 2; i < 5; i++ {
					if err := b.Kill(context.Background(), i); err != nil {
						t.Fatal(err)
					}
				}
			},
			check: func(t *testing.T, err error, _ []redis.UniversalClient) {
				var re *redsync.RedisError
				if err == nil || lock.IsDefinite(err) || !errors.As(err, &re) {
					t.Fatalf("acquire: %v, want an indeterminate error carrying *redsync.RedisError", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, cs := nodes(t, 5)
			tc.setup(t, b, cs)
			_, err := mk("redsync", cs, lock.WithRetries(2, 10*time.Millisecond)).Acquire(context.Background(), "k")
			tc.check(t, err, cs)
		})
	}
}

func TestRedsyncExtendAndReleaseOfAnExpiredLockAreLockLost(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	_, cs := nodes(t, 5)
	ttl := time.Second
	lease, err := mk("redsync", cs, lock.WithTTL(ttl)).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*ttl, "the lock to expire on every node", func() bool {
		for _, c := range cs {
			if exists(t, c, "k") {
				return false
			}
		}
		return true
	})
	if err := lease.Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("extend of an expired lock: %v, want ErrLockLost", err)
	}
	err = lease.Release(ctx)
	if !errors.Is(err, lock.ErrLockLost) || !errors.Is(err, redsync.ErrLockAlreadyExpired) {
		t.Fatalf("release of an expired lock: %v, want ErrLockLost wrapping redsync.ErrLockAlreadyExpired", err)
	}
}

func TestRedsyncExtendsAndReleasesItsLock(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	start := time.Now()
	lease, err := mk("redsync", cs, lock.WithTTL(10*time.Second)).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	// Until = start of the try + TTL − TTL×DriftFactor (0.01 by default: 100 ms).
	if left := lease.ValidUntil().Sub(start); left > 9900*time.Millisecond+50*time.Millisecond || left < 9*time.Second {
		t.Fatalf("validity %s from the start of acquire, want just under TTL − drift", left)
	}
	if err := lease.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if exists(t, c, "k") {
			t.Fatalf("node %d still holds the lock after release", i+1)
		}
	}
}

func TestRedsyncPerTryTimeoutIsTheNodeTimeout(t *testing.T) {
	ctx := context.Background()
	b, cs := nodes(t, 5)
	for _, i := range []int{3, 4} {
		resumeOnCleanup(t, b, i)
		if err := b.Pause(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	// With a 120 s TTL redsync's default timeout factor (0.05) would wait 6 s on the frozen nodes.
	nodeTimeout := 100 * time.Millisecond
	start := time.Now()
	_, err := mk("redsync", cs, lock.WithTTL(120*time.Second), lock.WithNodeTimeout(nodeTimeout)).Acquire(ctx, "k")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("acquire with three of five nodes: %v", err)
	}
	if took < nodeTimeout || took > 3*time.Second {
		t.Fatalf("acquire took %s: redsync should have waited on the frozen nodes for the node timeout, %s", took, nodeTimeout)
	}
}

func TestRedsyncTimeoutFactorGivesExactlyTheNodeTimeout(t *testing.T) {
	for _, tc := range []struct{ node, ttl time.Duration }{
		{50 * time.Millisecond, time.Second}, {10 * time.Millisecond, 200 * time.Millisecond},
		{100 * time.Millisecond, 120 * time.Second}, {333 * time.Millisecond, 7 * time.Second},
		{time.Millisecond, 3 * time.Millisecond}, {7 * time.Millisecond, 10 * time.Second},
	} {
		f := lock.RedsyncTimeoutFactor(tc.node, tc.ttl)
		// redsync's own computation of its per-try timeout.
		if got := time.Duration(int64(float64(tc.ttl) * f)); got != tc.node {
			t.Errorf("node timeout %s, TTL %s: redsync would wait %s", tc.node, tc.ttl, got)
		}
	}
}

func TestRedsyncValuesReplayFromTheSeed(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	var values []string
	for range 2 {
		l := mk("redsync", cs, lock.WithRand(rand.New(rand.NewPCG(7, 8))))
		lease, err := l.Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, get(t, cs[0], "k"))
		if err := lease.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if values[0] == "" || values[0] != values[1] {
		t.Fatalf("lock values %q from the same seed differ", values)
	}
}
