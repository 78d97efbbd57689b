package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
)

func TestSetnxExpireClientThatDiesBetweenSetnxAndPexpireLeavesALockThatNeverExpires(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 1)
	ttl := 100 * time.Millisecond

	// A healthy acquisition gets its TTL from the second command.
	l, err := mk("setnx-expire", cs, lock.WithTTL(ttl)).Acquire(ctx, "healthy")
	if err != nil {
		t.Fatal(err)
	}
	if p := pttl(t, cs[0], "healthy"); p <= 0 || p > ttl.Milliseconds() {
		t.Fatalf("healthy acquisition: PTTL %d ms, want (0, %d]", p, ttl.Milliseconds())
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}

	var points []string
	crash := lock.WithStep(func(_ context.Context, point string) error {
		points = append(points, point)
		return errors.New("client died")
	})
	_, err = mk("setnx-expire", cs, lock.WithTTL(ttl), crash).Acquire(ctx, "k")
	if err == nil || lock.IsDefinite(err) {
		t.Fatalf("acquire by a client that died after SETNX: %v, want an indeterminate error", err)
	}
	if len(points) != 1 || points[0] != lock.StepBetweenSetNXAndExpire {
		t.Fatalf("step points %v, want [%s]", points, lock.StepBetweenSetNXAndExpire)
	}
	if p := pttl(t, cs[0], "k"); p != -1 {
		t.Fatalf("PTTL %d, want -1: the key should have no time to live", p)
	}

	other := mk("setnx-expire", cs, lock.WithTTL(ttl), lock.WithRetries(3, 20*time.Millisecond))
	for range 3 {
		if _, err := other.Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("another client acquired a lock whose holder died: %v", err)
		}
		time.Sleep(2 * ttl) // several TTLs in all: a TTL would have freed it long ago
	}
	if p := pttl(t, cs[0], "k"); p != -1 {
		t.Fatalf("PTTL %d after %s, want -1 still", p, 6*ttl)
	}
}

func TestGetDelLockThatExpiresBetweenTheGetAndTheNextCommandHitsTheNextHoldersLock(t *testing.T) {
	tests := []struct {
		name  string
		point string
		op    func(ctx context.Context, l lock.Lease) error
		// check looks at B's lock after A's operation; bTok is B's token.
		check func(t *testing.T, bTok string, val string, pttlMS int64)
	}{
		{
			name: "the DEL of A's release deletes B's lock", point: lock.StepBetweenGetAndDel,
			op: func(ctx context.Context, l lock.Lease) error { return l.Release(ctx) },
			check: func(t *testing.T, _ string, val string, _ int64) {
				if val != "" {
					t.Fatal("B's lock survived A's release")
				}
			},
		},
		{
			name: "the PEXPIRE of A's extend cuts B's lock to A's TTL", point: lock.StepBetweenGetAndExpire,
			op: func(ctx context.Context, l lock.Lease) error { return l.Extend(ctx) },
			check: func(t *testing.T, bTok string, val string, p int64) {
				// B's lock had 10 s; it now has at most A's 100 ms, or has already expired because of it.
				if val != "" && (val != bTok || p > 100) {
					t.Fatalf("B's lock: value %q (B's is %q), PTTL %d ms: A's PEXPIRE did not land on it", val, bTok, p)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, cs := nodes(t, 1)
			b := mk("get-del", cs, lock.WithTTL(10*time.Second))
			var bTok string
			step := lock.WithStep(func(ctx context.Context, point string) error {
				if point != tc.point {
					return nil // another point of the protocol (after-replies): not the gap under test
				}
				// A's GET has matched; now its lock expires and B takes the key.
				waitFor(t, 2*time.Second, "A's lock to expire", func() bool { return !exists(t, cs[0], "k") })
				if _, err := b.Acquire(ctx, "k"); err != nil {
					t.Errorf("B's acquire: %v", err)
				}
				bTok = get(t, cs[0], "k")
				return nil
			})
			a := mk("get-del", cs, lock.WithTTL(100*time.Millisecond), step)
			la, err := a.Acquire(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.op(ctx, la); err != nil {
				t.Fatalf("A's operation: %v; it should believe it acted on its own lock", err)
			}
			if bTok == "" {
				t.Fatal("B never acquired")
			}
			pipe := cs[0].Pipeline()
			val, p := pipe.Get(ctx, "k"), pipe.Do(ctx, "PTTL", "k")
			_, _ = pipe.Exec(ctx)
			pv, _ := p.Int64()
			tc.check(t, bTok, val.Val(), pv)
		})
	}
}

func TestGetDelReleasesItsOwnLockAndRefusesAnother(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 1)
	a := mk("get-del", cs, lock.WithTTL(time.Second))
	la, err := a.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk("get-del", cs).Acquire(ctx, "k"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("a held lock was acquired: %v", err)
	}
	if err := la.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(t, cs[0], "k") {
		t.Fatal("the lock survived its release")
	}
	if err := la.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("second release: %v, want ErrLockLost", err)
	}
}
