package etcdlock

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redlock-harness/redlock-harness/lock"
)

// LeaseTxn is the lock that articles on etcd write by hand instead of using concurrency.Mutex: grant a lease of
// the TTL, then one transaction that puts the key with a random token, attached to the lease, if the key does not
// exist (its create revision is 0). The holder renews with one keep-alive of the lease (the worker calls Extend),
// and releases by revoking the lease, which deletes the key with it. There is no fencing token and no one tells
// the holder it lost the lock: only its own ValidUntil, the send time of the grant or of the last acknowledged
// renewal plus the granted TTL.
type LeaseTxn struct{}

// Name implements lock.Strategy.
func (LeaseTxn) Name() string { return "etcd-lease-txn" }

// Steps implements lock.Stepper: a pause once the transaction has succeeded and before the lease is handed over
// eats into the holder's TTL.
func (LeaseTxn) Steps() []string { return []string{lock.StepAfterReplies} }

// New implements Strategy.
func (LeaseTxn) New(members []*clientv3.Client, opt lock.Options) lock.Locker {
	o := opt.WithDefaults()
	return &leaseTxnLocker{m: newMembers(members, o), o: o}
}

type leaseTxnLocker struct {
	m *members
	o lock.Options
}

// Acquire grants a lease and puts the key with it if the key is absent, retrying while the key exists.
func (l *leaseTxnLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	var won *leaseTxnLease
	err := lock.Retry(ctx, l.o, func() (bool, error) {
		i, c := l.m.client()
		s, ok, err := l.try(ctx, c, KeyPrefix+key)
		if err != nil {
			l.m.failed(i)
			return false, err
		}
		if !ok {
			return false, nil
		}
		if err := l.o.At(ctx, lock.StepAfterReplies); err != nil {
			return false, err
		}
		won = s
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return won, nil
}

// try is one attempt: the grant, then the transaction. A lease whose transaction failed is revoked (best effort:
// it holds no key, and expires anyway). A request that fails leaves its lease to expire by itself.
func (l *leaseTxnLocker) try(ctx context.Context, c *clientv3.Client, key string) (*leaseTxnLease, bool, error) {
	sent := l.o.Now()
	g, err := c.Grant(ctx, TTLSeconds(l.o.TTL))
	if err != nil {
		return nil, false, indeterminate("grant", err)
	}
	tok := lock.Token(l.o)
	r, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, tok, clientv3.WithLease(g.ID))).
		Commit()
	if err != nil {
		return nil, false, indeterminate("txn", err)
	}
	if !r.Succeeded {
		_, _ = c.Revoke(ctx, g.ID)
		return nil, false, nil
	}
	s := &leaseTxnLease{c: c, id: g.ID, now: l.o.Now}
	s.v.renewed(sent, g.TTL)
	return s, true, nil
}

// leaseTxnLease is a lock held by a lease of its own.
type leaseTxnLease struct {
	c   *clientv3.Client
	id  clientv3.LeaseID
	now func() time.Time
	v   validity
}

func (s *leaseTxnLease) Fence() int64 { return 0 }

// ValidUntil is the send time of the grant or of the last acknowledged renewal, plus the granted TTL.
func (s *leaseTxnLease) ValidUntil() time.Time { return s.v.get() }

// Extend sends one keep-alive of the lease: lock.ErrLockLost when etcd says the lease is gone.
func (s *leaseTxnLease) Extend(ctx context.Context) error {
	return keepAliveOnce(ctx, s.c, s.id, &s.v, s.now)
}

// Release revokes the lease, which deletes the key with it: lock.ErrLockLost when the lease was already gone.
func (s *leaseTxnLease) Release(ctx context.Context) error {
	_, err := s.c.Revoke(ctx, s.id)
	if errors.Is(err, errLeaseNotFound) {
		return lock.ErrLockLost
	}
	if err != nil {
		return indeterminate("revoke", err)
	}
	return nil
}

func init() {
	lock.Register(lock.Info{
		Name: "etcd-lease-txn", System: System,
		Summary:  "grant a lease, Txn put-if-absent (create revision 0) with it; renew with KeepAliveOnce, release with Revoke",
		Origin:   "the hand-written etcd lease lock of blog posts and answers",
		Weakness: "no fencing and no loss notice: a holder paused past its TTL writes after the next holder",
		Make:     func() lock.Strategy { return LeaseTxn{} },
	})
}
