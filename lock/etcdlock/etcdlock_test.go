package etcdlock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/harness/system/etcd"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/lock/etcdlock"
)

// members starts a three-member cluster and returns the backend and a set of clients, one per member, as a
// worker has them.
func members(t *testing.T) (*etcd.Local, []cluster.Node, []*clientv3.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts etcd members: not in -short")
	}
	b := &etcd.Local{}
	nodes, err := b.Start(context.Background(), cluster.Spec{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	return b, nodes, clients(t, nodes, nil)
}

// clients makes a worker's clients of the nodes, at addrs when given (links), else directly.
func clients(t *testing.T, nodes []cluster.Node, addrs []string) []*clientv3.Client {
	t.Helper()
	var out []*clientv3.Client
	for i, n := range nodes {
		a := n.Addr
		if addrs != nil {
			a = addrs[i]
		}
		c, err := etcd.NewClient(a, time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		out = append(out, c)
	}
	return out
}

// mk builds a locker of the named strategy with no retries (unless opts say otherwise) and a 1s TTL.
func mk(t *testing.T, name string, cs []*clientv3.Client, opts ...lock.Option) lock.Locker {
	t.Helper()
	info, err := lock.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.SystemName() != etcdlock.System {
		t.Fatalf("%s is registered for system %q", name, info.SystemName())
	}
	base := []lock.Option{lock.WithTTL(time.Second), lock.WithRetries(0, time.Millisecond)}
	return info.Make().(etcdlock.Strategy).New(cs, lock.NewOptions(append(base, opts...)...))
}

func bg(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

var strategies = []string{"etcd-mutex", "etcd-mutex-fenced", "etcd-lease-txn"}

func TestAHeldLockRefusesASecondClientUntilItsHolderReleasesIt(t *testing.T) {
	_, _, cs := members(t)
	for _, name := range strategies {
		t.Run(name+" refuses the second client, then lets it in", func(t *testing.T) {
			ctx, cancel := bg(10 * time.Second)
			defer cancel()
			a, b := mk(t, name, cs), mk(t, name, cs)
			la, err := a.Acquire(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Acquire(ctx, name); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("B on a held lock: %v, want ErrNotAcquired", err)
			}
			if err := la.Release(ctx); err != nil {
				t.Fatal(err)
			}
			lb, err := b.Acquire(ctx, name)
			if err != nil {
				t.Fatalf("B after A's release: %v", err)
			}
			if err := lb.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTheFencedMutexHandsOutIncreasingRevisionsAndTheOthersNone(t *testing.T) {
	_, _, cs := members(t)
	tests := []struct {
		name       string
		increasing bool
	}{
		{"etcd-mutex-fenced tokens grow from one holder to the next", true},
		{"etcd-mutex carries no token", false},
		{"etcd-lease-txn carries no token", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := bg(10 * time.Second)
			defer cancel()
			strategy := tc.name[:len(tc.name)-len(" carries no token")]
			if tc.increasing {
				strategy = "etcd-mutex-fenced"
			}
			var last int64
			for i := range 4 {
				l, err := mk(t, strategy, cs).Acquire(ctx, "fenced")
				if err != nil {
					t.Fatal(err)
				}
				f := l.Fence()
				if tc.increasing && f <= last {
					t.Fatalf("holder %d got token %d after %d", i+1, f, last)
				}
				if !tc.increasing && f != 0 {
					t.Fatalf("token %d, want 0", f)
				}
				last = f
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestALeaseThatExpiredMakesExtendAndReleaseReportTheLockLost(t *testing.T) {
	_, _, cs := members(t)
	ctx, cancel := bg(20 * time.Second)
	defer cancel()
	l, err := mk(t, "etcd-lease-txn", cs).Acquire(ctx, "expiring")
	if err != nil {
		t.Fatal(err)
	}
	if v := time.Until(l.ValidUntil()); v <= 0 || v > time.Second {
		t.Fatalf("ValidUntil %s from now, want within the 1s TTL", v)
	}
	before := l.ValidUntil()
	time.Sleep(300 * time.Millisecond)
	if err := l.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if !l.ValidUntil().After(before) {
		t.Fatal("a renewal did not move ValidUntil")
	}
	time.Sleep(2500 * time.Millisecond) // past the TTL, and past the leader's expiry sweep (every 500ms)
	other, err := mk(t, "etcd-lease-txn", cs).Acquire(ctx, "expiring")
	if err != nil {
		t.Fatalf("another client on an expired lock: %v", err)
	}
	defer other.Release(ctx)
	if err := l.Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Extend of an expired lease: %v, want ErrLockLost", err)
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Release of an expired lease: %v, want ErrLockLost", err)
	}
}

// sessionLease finds the lease under which a mutex holds key, by reading the holder's key.
func sessionLease(t *testing.T, c *clientv3.Client, key string) clientv3.LeaseID {
	t.Helper()
	ctx, cancel := bg(2 * time.Second)
	defer cancel()
	r, err := c.Get(ctx, etcdlock.KeyPrefix+key+"/", clientv3.WithPrefix())
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("the mutex's keys: %v, %v", r, err)
	}
	return clientv3.LeaseID(r.Kvs[0].Lease)
}

func TestARevokedSessionTellsItsHolderAndTheNextAcquisitionOpensAnother(t *testing.T) {
	b, _, cs := members(t)
	ctx, cancel := bg(20 * time.Second)
	defer cancel()
	m := mk(t, "etcd-mutex", cs)
	l, err := m.Acquire(ctx, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if sr, ok := l.(lock.SelfRenewing); !ok || !sr.SelfRenewing() {
		t.Fatal("the mutex's lease does not renew itself")
	}
	first := sessionLease(t, b.Client(0), "revoked")
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l, err = m.Acquire(ctx, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if again := sessionLease(t, b.Client(0), "revoked"); again != first {
		t.Fatalf("the second acquisition used lease %x, not the session's %x", again, first)
	}
	if _, err := b.Client(1).Revoke(ctx, first); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.(lock.LossNotifier).Lost():
	case <-time.After(3 * time.Second):
		t.Fatal("Lost() did not close within 3s of the revocation")
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Release after the revocation: %v, want ErrLockLost", err)
	}
	if err := l.Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Extend after the revocation: %v, want ErrLockLost", err)
	}
	l, err = m.Acquire(ctx, "revoked")
	if err != nil {
		t.Fatalf("acquisition after the session ended: %v", err)
	}
	defer l.Release(ctx)
	if third := sessionLease(t, b.Client(0), "revoked"); third == first {
		t.Fatal("the next acquisition reused the revoked session")
	}
}

func TestTheMutexsValidityAdvancesWithItsSessionsRenewals(t *testing.T) {
	_, _, cs := members(t)
	ctx, cancel := bg(10 * time.Second)
	defer cancel()
	l, err := mk(t, "etcd-mutex", cs).Acquire(ctx, "renewed")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	first := l.ValidUntil()
	if v := time.Until(first); v > time.Second {
		t.Fatalf("ValidUntil %s from now, beyond the 1s TTL", v)
	}
	time.Sleep(1500 * time.Millisecond) // longer than the TTL: only renewals keep it valid
	if v := time.Until(l.ValidUntil()); v <= 0 || v > time.Second {
		t.Fatalf("ValidUntil %s from now after 1.5s, want within (0, 1s]: renewals did not advance it", v)
	}
}

func TestAFailpointAfterTheGrantLeavesTheLockHeldAndTheOutcomeUnknown(t *testing.T) {
	_, _, cs := members(t)
	for _, name := range strategies {
		t.Run(name+" stops after the grant", func(t *testing.T) {
			ctx, cancel := bg(10 * time.Second)
			defer cancel()
			var points []string
			crash := lock.WithStep(func(_ context.Context, p string) error {
				points = append(points, p)
				return errors.New("client died")
			})
			_, err := mk(t, name, cs, crash).Acquire(ctx, "step-"+name)
			if err == nil || lock.IsDefinite(err) {
				t.Fatalf("acquire that died at its step: %v, want an indeterminate error", err)
			}
			if len(points) != 1 || points[0] != lock.StepAfterReplies {
				t.Fatalf("step points %v, want [%s]", points, lock.StepAfterReplies)
			}
			if _, err := mk(t, name, cs).Acquire(ctx, "step-"+name); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("another client got the lock the dead one was granted: %v", err)
			}
		})
	}
}

func TestAHolderCutOffFromEveryMemberIsOvertakenOnlyOnceItsOwnValidityHasRunOut(t *testing.T) {
	_, nodes, cs := members(t)
	nw, err := netem.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Close() })
	var addrs []string
	var links []*netem.Link
	for _, n := range nodes {
		l, err := nw.AddLink("g1", n.Name, n.Addr)
		if err != nil {
			t.Fatal(err)
		}
		links, addrs = append(links, l), append(addrs, l.Addr())
	}
	ctx, cancel := bg(20 * time.Second)
	defer cancel()
	holder, err := mk(t, "etcd-mutex", clients(t, nodes, addrs)).Acquire(ctx, "cut")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		heal := l.Apply(netem.Effect{Cut: netem.Drop})
		defer heal()
	}
	cut := time.Now()
	belief := holder.ValidUntil()
	other := mk(t, "etcd-mutex", cs, lock.WithRetries(200, 20*time.Millisecond), lock.WithAcquireTimeout(15*time.Second))
	actx, acancel := bg(15 * time.Second)
	defer acancel()
	l2, err := other.Acquire(actx, "cut")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release(ctx)
	taken := time.Now()
	lost := false
	select {
	case <-holder.(lock.LossNotifier).Lost():
		lost = true
	default:
	}
	t.Logf("cut at 0; holder's ValidUntil %s; another client acquired at %s; the holder's session had ended: %v",
		belief.Sub(cut).Round(time.Millisecond), taken.Sub(cut).Round(time.Millisecond), lost)
	if holder.ValidUntil().After(taken) {
		t.Fatalf("the holder believed in its lease until %s, after another client took the lock at %s",
			holder.ValidUntil().Sub(cut), taken.Sub(cut))
	}
}
