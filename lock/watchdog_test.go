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

// renewalFailure is one way a holder's renewals start failing: breakLock breaks the lock held under "k" on node 0
// of b, c being the holder's own client.
type renewalFailure struct {
	name      string
	breakLock func(t *testing.T, b *cluster.Local, c *redis.Client)
	// closesClient: the holder's later commands fail (indeterminate) rather than find the lock gone.
	closesClient bool
	// silent: no reply ever comes; only the validity's end can tell the holder.
	silent bool
}

// renewalFailures are shared by both watchdogs' tests.
var renewalFailures = []renewalFailure{
	{"the key taken by another client", func(t *testing.T, _ *cluster.Local, c *redis.Client) {
		if err := c.Set(context.Background(), "k", "someone-else", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}, false, false},
	{"the key deleted", func(t *testing.T, _ *cluster.Local, c *redis.Client) {
		if err := c.Del(context.Background(), "k").Err(); err != nil {
			t.Fatal(err)
		}
	}, false, false},
	{"the holder's client closed", func(t *testing.T, _ *cluster.Local, c *redis.Client) {
		_ = c.Close()
	}, true, false},
}

func TestLuaWatchdogHolderKeepsBelievingInItsLockAfterItsRenewalsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ttl := 600 * time.Millisecond
	interval := ttl / 3
	for _, tc := range renewalFailures {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b, cs := nodes(t, 1)
			own := client(t, cs[0]) // the holder's client, which the test may close
			lease, err := mk("lua-watchdog", []redis.UniversalClient{own}, lock.WithTTL(ttl)).Acquire(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if sr, ok := lease.(lock.SelfRenewing); !ok || !sr.SelfRenewing() {
				t.Fatal("the lease does not say it renews itself: the worker would call Extend")
			}
			if _, ok := lease.(lock.LossNotifier); ok {
				t.Fatal("the lease can signal a loss: article [B]'s watchdog never tells its holder")
			}
			tok := get(t, cs[0], "k")
			tc.breakLock(t, b, own)
			if p := pttl(t, cs[0], "k"); p > ttl.Milliseconds() {
				t.Fatalf("PTTL %d ms: the first renewal (due %s after acquiring) came before the test broke the lock", p, interval)
			}

			select {
			case <-lock.WatchdogDone(lease):
			case <-time.After(10 * ttl):
				t.Fatal("the watchdog did not end at its failed renewal")
			}
			// The key no longer holds our lock (or soon will not: without renewals it expires within a TTL).
			waitFor(t, 2*ttl+renewalSlack, "the lock to be gone from the node", func() bool { return get(t, cs[0], "k") != tok })

			// The holder believes in its lock all the same, and more so with every tick.
			v1 := lease.ValidUntil()
			if !time.Now().Before(v1) {
				t.Fatalf("ValidUntil %s is past: the holder would notice", v1)
			}
			time.Sleep(3 * interval)
			v2 := lease.ValidUntil()
			if !v2.After(v1) {
				t.Fatalf("ValidUntil stayed at %s after %s of ticks: it should advance with each tick", v1, 3*interval)
			}
			// A careful worker checks ValidUntil before writing: it writes, without the lock.
			if !time.Now().Before(v2) || get(t, cs[0], "k") == tok {
				t.Fatal("expected a holder that believes in a lock the node no longer has")
			}
			err = lease.Release(ctx)
			if tc.closesClient {
				if err == nil || lock.IsDefinite(err) {
					t.Fatalf("release on a closed client: %v, want indeterminate", err)
				}
			} else if !errors.Is(err, lock.ErrLockLost) {
				t.Fatalf("release: %v, want ErrLockLost", err)
			}
		})
	}
}

// renewalSlack bounds how long one renewal round trip may take on a loaded machine.
const renewalSlack = 500 * time.Millisecond

func TestLuaWatchdogRenewsForThirtySecondsWhateverTheTTLAndKeepsTheKeyAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ttl := 300 * time.Millisecond
	tests := []struct {
		name     string
		strategy lock.RedisStrategy
		// The key's PTTL once renewed lies within [wantMin, wantMax].
		wantMin, wantMax time.Duration
	}{
		{"the article's 30 s renewal", lock.LuaWatchdog{}, 25 * time.Second, 30 * time.Second},
		{"a 1 s renewal, renewed at every tick", lock.LuaWatchdog{Renewal: time.Second}, ttl, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, cs := nodes(t, 1)
			lease, err := tc.strategy.New(cs, lock.NewOptions(lock.WithTTL(ttl))).Acquire(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			tok := get(t, cs[0], "k")
			waitFor(t, 2*time.Second, "the first renewal", func() bool { return pttl(t, cs[0], "k") > ttl.Milliseconds() })
			// Several TTLs, and longer than the 1 s renewal itself: only renewals that go on keep the key.
			time.Sleep(max(5*ttl, 1500*time.Millisecond))
			if get(t, cs[0], "k") != tok {
				t.Fatal("the lock was lost while its watchdog was healthy")
			}
			if p := time.Duration(pttl(t, cs[0], "k")) * time.Millisecond; p < tc.wantMin || p > tc.wantMax {
				t.Fatalf("PTTL %s, want within [%s, %s]", p, tc.wantMin, tc.wantMax)
			}
			if err := lease.Release(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-lock.WatchdogDone(lease):
			default:
				t.Fatal("the watchdog outlived Release")
			}
			if exists(t, cs[0], "k") {
				t.Fatal("the lock survived its release")
			}
		})
	}
}

func TestLuaWatchdogCancelClosesLostWhenARenewalFails(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ttl := 600 * time.Millisecond
	failures := append(renewalFailures[:len(renewalFailures):len(renewalFailures)], renewalFailure{
		"the node paused until the validity passes", func(t *testing.T, b *cluster.Local, _ *redis.Client) {
			resumeOnCleanup(t, b, 0)
			if err := b.Pause(context.Background(), 0); err != nil {
				t.Fatal(err)
			}
		}, false, true})
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b, cs := nodes(t, 1)
			own := client(t, cs[0])
			lease, err := mk("lua-watchdog-cancel", []redis.UniversalClient{own}, lock.WithTTL(ttl)).Acquire(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if sr, ok := lease.(lock.SelfRenewing); !ok || !sr.SelfRenewing() {
				t.Fatal("the lease does not say it renews itself")
			}
			ln, ok := lease.(lock.LossNotifier)
			if !ok {
				t.Fatal("the lease is not a LossNotifier")
			}
			tc.breakLock(t, b, own)
			select {
			case <-ln.Lost():
			case <-time.After(3*ttl + renewalSlack):
				t.Fatal("Lost() was not closed after the renewals started failing")
			}
			now := time.Now()
			if v := lease.ValidUntil(); v.After(now.Add(ttl)) {
				t.Fatalf("ValidUntil %s after the loss: more than a TTL from now", v)
			} else if tc.silent && now.Before(v) {
				t.Fatalf("Lost() closed at %s, before the validity ended at %s, with no failed reply", now, v)
			}
			select {
			case <-lock.WatchdogDone(lease):
			case <-time.After(time.Second):
				t.Fatal("the watchdog goes on after the loss")
			}
		})
	}
}

func TestLuaWatchdogCancelHealthyKeepsTheKeyAliveAndNeverSignalsLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	ctx := context.Background()
	ttl := 900 * time.Millisecond
	_, cs := nodes(t, 1)
	lease, err := mk("lua-watchdog-cancel", cs, lock.WithTTL(ttl)).Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	tok := get(t, cs[0], "k")
	lost := lease.(lock.LossNotifier).Lost()
	deadline := time.Now().Add(4 * ttl)
	for time.Now().Before(deadline) {
		select {
		case <-lost:
			t.Fatal("Lost() closed while the renewals succeed")
		case <-time.After(ttl / 4):
		}
		if get(t, cs[0], "k") != tok {
			t.Fatal("the lock was lost while its watchdog was healthy")
		}
		if p := pttl(t, cs[0], "k"); p > ttl.Milliseconds() {
			t.Fatalf("PTTL %d ms: renewals should set the TTL (%s), nothing more", p, ttl)
		}
		if !time.Now().Before(lease.ValidUntil()) {
			t.Fatal("ValidUntil passed while the renewals succeed")
		}
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lock.WatchdogDone(lease):
	default:
		t.Fatal("the watchdog outlived Release")
	}
	select {
	case <-lost:
		t.Fatal("Release closed Lost(): a release is not a loss")
	default:
	}
	if exists(t, cs[0], "k") {
		t.Fatal("the lock survived its release")
	}
}
