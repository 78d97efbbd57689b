package pglock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/lock/pglock"
)

func TestEveryStrategyRefusesASecondClientUntilTheFirstReleases(t *testing.T) {
	for _, st := range all {
		t.Run(st.name, func(t *testing.T) {
			needServer(t)
			ctx, k := within(t, 10*time.Second), key(t)
			a, b := mk(t, st.name, client(t, "a"), noRetry), mk(t, st.name, client(t, "b"), noRetry)
			la, err := a.Acquire(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Acquire(ctx, k); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("a second client while the first holds: %v, want ErrNotAcquired", err)
			}
			if err := la.Extend(ctx); err != nil {
				t.Fatalf("the holder's extend: %v", err)
			}
			if !time.Now().Before(la.ValidUntil()) {
				t.Fatalf("a fresh lease is valid until %s, already past", la.ValidUntil())
			}
			if err := la.Release(ctx); err != nil {
				t.Fatal(err)
			}
			lb, err := b.Acquire(ctx, k)
			if err != nil {
				t.Fatalf("the second client after the release: %v", err)
			}
			if err := la.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
				t.Fatalf("a second release by the first holder: %v, want ErrLockLost", err)
			}
			if err := lb.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTheFencedRowsTokensGrowWithEveryAcquisitionAndTheUnfencedRowHasNone(t *testing.T) {
	needServer(t)
	ctx, k := within(t, 10*time.Second), key(t)
	plain, err := mk(t, "pg-unique-row", client(t, "plain"), noRetry).Acquire(ctx, k+"-plain")
	if err != nil {
		t.Fatal(err)
	}
	if plain.Fence() != 0 {
		t.Fatalf("the unfenced row carries token %d", plain.Fence())
	}
	ttl := 100 * time.Millisecond
	a := mk(t, "pg-unique-row-fenced", client(t, "a"), noRetry, lock.WithTTL(ttl))
	b := mk(t, "pg-unique-row-fenced", client(t, "b"), noRetry, lock.WithTTL(ttl))
	var last int64
	take := func(l lock.Locker, how string) lock.Lease {
		t.Helper()
		lease, err := l.Acquire(ctx, k)
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if lease.Fence() <= last {
			t.Fatalf("%s: token %d after %d", how, lease.Fence(), last)
		}
		last = lease.Fence()
		return lease
	}
	la := take(a, "a first acquisition")
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb := take(b, "an acquisition after a release")
	time.Sleep(2 * ttl) // b's row goes stale: a takes it over
	la = take(a, "a takeover of a stale row")
	if err := lb.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("the release of a row taken over: %v, want ErrLockLost", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestASessionLockOutlivesItsTTLWhileALockRowIsTakenOverOnceItsTTLHasPassed(t *testing.T) {
	for _, st := range all {
		t.Run(st.name, func(t *testing.T) {
			needServer(t)
			ctx, k := within(t, 10*time.Second), key(t)
			ttl := 100 * time.Millisecond
			la, err := mk(t, st.name, client(t, "a"), noRetry, lock.WithTTL(ttl)).Acquire(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * ttl) // the holder stalls, renewing nothing
			_, err = mk(t, st.name, client(t, "b"), noRetry, lock.WithTTL(ttl)).Acquire(ctx, k)
			if st.held {
				if !errors.Is(err, lock.ErrNotAcquired) {
					t.Fatalf("another client after 3 TTLs: %v; a lock that lives with its connection has no expiry", err)
				}
				if time.Until(la.ValidUntil()) < time.Hour {
					t.Fatalf("the holder believes until %s only", la.ValidUntil())
				}
				return
			}
			if err != nil {
				t.Fatalf("another client after 3 TTLs: %v; a stale row is taken over", err)
			}
			if time.Now().Before(la.ValidUntil()) {
				t.Fatalf("the stalled holder still believes (until %s): its belief must end with its TTL", la.ValidUntil())
			}
			if err := la.Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
				t.Fatalf("the stalled holder's extend: %v, want ErrLockLost", err)
			}
		})
	}
}

func TestAServerThatEndsTheHoldersSessionLetsAnotherClientInWhileTheHolderStillBelieves(t *testing.T) {
	for _, st := range all {
		if !st.held {
			continue
		}
		t.Run(st.name, func(t *testing.T) {
			needServer(t)
			ctx, k := within(t, 10*time.Second), key(t)
			holder := mk(t, st.name, client(t, "holder-"+st.name), noRetry)
			la, err := holder.Acquire(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			// The server ends the holder's session, as a restart or a connection it loses does; the holder is told
			// nothing.
			var n int
			if err := admin(t).QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
				"holder-"+st.name).Scan(&n); err != nil || n != 1 {
				t.Fatalf("terminated %d backends of the holder (%v), want 1", n, err)
			}
			lb, err := mk(t, st.name, client(t, "b"), lock.WithRetries(20, 10*time.Millisecond)).Acquire(ctx, k)
			if err != nil {
				t.Fatalf("another client after the holder's session ended: %v", err)
			}
			defer lb.Release(ctx)
			if time.Until(la.ValidUntil()) < time.Hour {
				t.Fatalf("the holder's lease says it ends at %s: it cannot know yet", la.ValidUntil())
			}
			// Only its next round trip tells it.
			if err := la.Extend(ctx); err == nil || lock.IsDefinite(err) {
				t.Fatalf("the holder's extend on a terminated session: %v, want an indeterminate error", err)
			}
			if la.ValidUntil().After(time.Now()) {
				t.Fatalf("after a failed extend the holder still believes until %s", la.ValidUntil())
			}
		})
	}
}

func TestAClientThatCrashesRightAfterTheGrantHoldsTheLockUntilItsSocketsCloseOrItsRowExpires(t *testing.T) {
	for _, st := range all {
		t.Run(st.name, func(t *testing.T) {
			needServer(t)
			ctx, k := within(t, 10*time.Second), key(t)
			ttl := 200 * time.Millisecond
			var points []string
			crash := lock.WithStep(func(_ context.Context, p string) error {
				points = append(points, p)
				return errors.New("client died")
			})
			dead := client(t, "dead")
			_, err := mk(t, st.name, dead, noRetry, lock.WithTTL(ttl), crash).Acquire(ctx, k)
			if err == nil || lock.IsDefinite(err) {
				t.Fatalf("acquire by a client that died after the grant: %v, want an indeterminate error", err)
			}
			if len(points) != 1 || points[0] != lock.StepAfterReplies {
				t.Fatalf("step points %v, want [%s]", points, lock.StepAfterReplies)
			}
			other := mk(t, st.name, client(t, "other"), noRetry, lock.WithTTL(ttl))
			if _, err := other.Acquire(ctx, k); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("another client right after the crash: %v, want ErrNotAcquired: nothing was cleaned up", err)
			}
			time.Sleep(2 * ttl)
			if st.held {
				if _, err := other.Acquire(ctx, k); !errors.Is(err, lock.ErrNotAcquired) {
					t.Fatalf("another client two TTLs after the crash: %v, want ErrNotAcquired while the dead client's connection is open", err)
				}
				_ = dead.Close() // the process is gone: the kernel closes its sockets
			}
			lb, err := mk(t, st.name, client(t, "other2"), lock.WithRetries(20, 10*time.Millisecond)).Acquire(ctx, k)
			if err != nil {
				t.Fatalf("another client once the dead one's row expired or its sockets closed: %v", err)
			}
			_ = lb.Release(ctx)
		})
	}
}

func TestEveryStrategyIsRegisteredAsAPostgresStrategyAndListsItsSteps(t *testing.T) {
	for _, st := range all {
		info, err := lock.Lookup(st.name)
		if err != nil {
			t.Fatal(err)
		}
		if info.SystemName() != pglock.SystemName || info.Make().Name() != st.name {
			t.Errorf("%s: system %q, makes %q", st.name, info.SystemName(), info.Make().Name())
		}
		if info.Fenced != (st.name == "pg-unique-row-fenced") {
			t.Errorf("%s: fenced %v", st.name, info.Fenced)
		}
		steps := lock.StepsOf(info.Make())
		found := false
		for _, p := range steps {
			found = found || p == lock.StepAfterReplies
		}
		if !found {
			t.Errorf("%s: steps %v lack %s", st.name, steps, lock.StepAfterReplies)
		}
	}
}
