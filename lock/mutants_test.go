package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/lock"
)

// Each mutant's planted bug is shown on real nodes by a deterministic interleaving, and the same interleaving
// leaves its healthy twin correct: the bug is there, it is the only difference, and a harness that misses the
// mutant misses a real bug.
func TestEveryMutantShowsItsBugWhereItsTwinDoesNot(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	tests := []struct {
		mutant string
		nodes  int
		// bug drives the interleaving with the strategy named and reports whether the planted bug showed.
		bug func(t *testing.T, name string, cs []redis.UniversalClient) bool
	}{
		{"lua~release-unchecked", 1, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			ctx := context.Background()
			la := mustAcquire(t, mk(name, cs, lock.WithTTL(100*time.Millisecond)), "k")
			waitFor(t, 2*time.Second, "A's lock to expire", func() bool { return !exists(t, cs[0], "k") })
			mustAcquire(t, mk(name, cs, lock.WithTTL(10*time.Second)), "k")
			_ = la.Release(ctx) // A's late release
			return !exists(t, cs[0], "k")
		}},
		{"lua~renew-unchecked", 1, lateRenewalBelieved},
		{"lua~renew-revives", 1, lateRenewalBelieved},
		{"lua~lease-from-end", 1, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			return believesPastTheKey(t, mk(name, cs, lock.WithTTL(time.Second), pauseAfterReplies(300*time.Millisecond)), cs[0])
		}},
		{"lua~token-reused", 1, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			ctx := context.Background()
			a := mk(name, cs, lock.WithTTL(100*time.Millisecond))
			first := mustAcquire(t, a, "k")
			waitFor(t, 2*time.Second, "the first lock to expire", func() bool { return !exists(t, cs[0], "k") })
			mustAcquire(t, a, "k")
			_ = first.Release(ctx) // the first acquisition's late release
			return !exists(t, cs[0], "k")
		}},
		{"redlock~validity-ignores-elapsed", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			return believesPastTheKey(t, mk(name, cs, lock.WithTTL(time.Second), pauseAfterReplies(300*time.Millisecond)), cs[0])
		}},
		{"redlock~drift-ignored", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			before := time.Now()
			l := mustAcquire(t, mk(name, cs, lock.WithTTL(time.Second)), "k")
			// With no allowance the holder believes in every millisecond of the TTL, as if no node's clock ran fast.
			return l.ValidUntil().Sub(before) > time.Second-time.Millisecond
		}},
		{"redlock~quorum-half", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			two := []redis.UniversalClient{cs[0], cs[1], deadNode(t), deadNode(t), deadNode(t)}
			_, err := mk(name, two).Acquire(context.Background(), "k")
			return err == nil // two of five answered
		}},
		{"redlock~partial-locks-kept", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			ctx := context.Background()
			for _, c := range cs[2:] {
				c.Set(ctx, "k", "someone-else", 10*time.Second)
			}
			if _, err := mk(name, cs).Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("acquire against a majority held by another: %v", err)
			}
			return exists(t, cs[0], "k") || exists(t, cs[1], "k")
		}},
		{"redlock~no-backoff", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			ctx := context.Background()
			for _, c := range cs {
				c.Set(ctx, "k", "someone-else", 10*time.Second)
			}
			start := time.Now()
			_, err := mk(name, cs, lock.WithRetries(20, 20*time.Millisecond)).Acquire(ctx, "k")
			if !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("acquire of a held lock: %v", err)
			}
			// Twenty retries backed off from 20ms take well over a second; without backoff they take a few ms each.
			return time.Since(start) < 300*time.Millisecond
		}},
		{"lua-watchdog-cancel~renewal-stops", 1, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			l := mustAcquire(t, mk(name, cs, lock.WithTTL(300*time.Millisecond)), "k")
			defer l.Release(context.Background())
			time.Sleep(1200 * time.Millisecond) // four TTLs: only renewals keep the key
			lost := false
			if ln, ok := l.(lock.LossNotifier); ok {
				select {
				case <-ln.Lost():
					lost = true
				default:
				}
			}
			return !exists(t, cs[0], "k") && !lost && l.ValidUntil().After(time.Now())
		}},
		{"fenced~token-one-node", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			ctx := context.Background()
			cs[0].Set(ctx, lock.FenceKeyPrefix+"k", 5, 0) // the first node forgot (a restart): the others went on
			for _, c := range cs[1:] {
				c.Set(ctx, lock.FenceKeyPrefix+"k", 100, 0)
			}
			l := mustAcquire(t, mk(name, cs), "k")
			return l.Fence() <= 100 // a token at or below one already handed out
		}},
		{"fenced~token-not-written-back", 5, func(t *testing.T, name string, cs []redis.UniversalClient) bool {
			ctx := context.Background()
			for i, v := range []int{10, 5, 5, 0, 0} {
				cs[i].Set(ctx, lock.FenceKeyPrefix+"k", v, 0)
			}
			a := mustAcquire(t, mk(name, cs), "k")
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			// B cannot reach the node that answered A with the highest count.
			b := mustAcquire(t, mk(name, append([]redis.UniversalClient{deadNode(t)}, cs[1:]...)), "k")
			return b.Fence() <= a.Fence()
		}},
	}
	if got, want := len(tests), len(lock.Mutants()); got != want {
		t.Fatalf("%d mutants tested, %d registered: every mutant needs its mechanism test", got, want)
	}
	for _, tc := range tests {
		t.Run(tc.mutant+" shows its bug and its twin does not", func(t *testing.T) {
			info, err := lock.Lookup(tc.mutant)
			if err != nil || info.Twin == "" {
				t.Fatalf("%s is not a registered mutant: %v", tc.mutant, err)
			}
			_, cs := nodes(t, tc.nodes)
			if !tc.bug(t, tc.mutant, cs) {
				t.Errorf("%s: the planted bug did not show", tc.mutant)
			}
			_, cs = nodes(t, tc.nodes)
			if tc.bug(t, info.Twin, cs) {
				t.Errorf("%s: its twin %s shows the bug too", tc.mutant, info.Twin)
			}
		})
	}
}

func TestMutantsAreNotAmongTheStrategiesButAreFoundByName(t *testing.T) {
	for _, m := range lock.Mutants() {
		for _, n := range lock.Names() {
			if n == m.Name {
				t.Errorf("mutant %s is listed among the strategies", m.Name)
			}
		}
		if _, err := lock.Lookup(m.Twin); err != nil {
			t.Errorf("mutant %s: twin %v", m.Name, err)
		}
		if got := m.Make().Name(); got != m.Name {
			t.Errorf("mutant %s runs under the name %q", m.Name, got)
		}
		twin, _ := lock.Lookup(m.Twin)
		if m.Fenced != twin.Fenced {
			t.Errorf("mutant %s: fenced %v, its twin %v", m.Name, m.Fenced, twin.Fenced)
		}
	}
}

func mustAcquire(t *testing.T, l lock.Locker, key string) lock.Lease {
	t.Helper()
	lease, err := l.Acquire(context.Background(), key)
	if err != nil {
		t.Fatalf("acquire %s: %v", key, err)
	}
	return lease
}

// lateRenewalBelieved: A's lock expires, B takes it, A renews late: the bug is A believing the renewal worked.
func lateRenewalBelieved(t *testing.T, name string, cs []redis.UniversalClient) bool {
	ctx := context.Background()
	la := mustAcquire(t, mk(name, cs, lock.WithTTL(100*time.Millisecond)), "k")
	waitFor(t, 2*time.Second, "A's lock to expire", func() bool { return !exists(t, cs[0], "k") })
	mustAcquire(t, mk(name, cs, lock.WithTTL(10*time.Second)), "k")
	return la.Extend(ctx) == nil
}

// pauseAfterReplies stalls the client once the servers' replies are in, before its lease is computed.
func pauseAfterReplies(d time.Duration) lock.Option {
	return lock.WithStep(func(_ context.Context, point string) error {
		if point == lock.StepAfterReplies {
			time.Sleep(d)
		}
		return nil
	})
}

// believesPastTheKey reports whether the holder's ValidUntil lies more than 100ms after its key expires on c.
func believesPastTheKey(t *testing.T, l lock.Locker, c redis.UniversalClient) bool {
	lease := mustAcquire(t, l, "k")
	expires := time.Now().Add(time.Duration(pttl(t, c, "k")) * time.Millisecond)
	return lease.ValidUntil().Sub(expires) > 100*time.Millisecond
}
