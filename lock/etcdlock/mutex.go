package etcdlock

import (
	"context"
	"errors"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/redlock-harness/redlock-harness/lock"
)

// Mutex is etcd's own lock as its client library ships it: a concurrency.Session per worker (a lease that the
// session keeps alive in the background) and a concurrency.Mutex per acquisition, taken with TryLock and retried
// as the Redis strategies retry. The lock is the first key created under /locks/<key>/; the holder's key is
// attached to its session's lease, so the lock goes when the lease expires. The holder is told through the
// session's Done channel (Lost), which clientv3 closes when a keep-alive says the lease is gone, or about a TTL
// after the last answer: a holder cut off from the cluster learns of its loss only after the others may have taken
// the lock (Jepsen, etcd 3.4.3).
//
// The session does not say when its lease runs out, so the worker keeps its own account: the send time of the
// grant or of the last renewal the session's keep-alive loop got an answer to, plus the TTL granted, read off the
// wire so that no renewal of the worker's own changes what is measured (renewals.go). That is ValidUntil, the
// belief a careful client checks before it writes.
type Mutex struct {
	// Fenced makes the lease carry the lock's revision as its fencing token (etcd-mutex-fenced): etcd's
	// revisions only grow, so a later holder's token is always larger. Without it the lease carries none.
	Fenced bool
}

// Name implements lock.Strategy.
func (m Mutex) Name() string {
	if m.Fenced {
		return "etcd-mutex-fenced"
	}
	return "etcd-mutex"
}

// Steps implements lock.Stepper: a pause once TryLock has won and before the lease is handed over is time the
// holder's belief does not account for.
func (Mutex) Steps() []string { return []string{lock.StepAfterReplies} }

// New implements Strategy.
func (m Mutex) New(members []*clientv3.Client, opt lock.Options) lock.Locker {
	o := opt.WithDefaults()
	return &mutexLocker{m: newMembers(members, o), o: o, fenced: m.Fenced}
}

type mutexLocker struct {
	m      *members
	o      lock.Options
	fenced bool

	mu sync.Mutex
	s  *session // the worker's session, nil until the next acquisition opens one
}

// Acquire takes the lock with TryLock on the worker's session, retrying while it is held.
func (l *mutexLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	var won *mutexLease
	err := lock.Retry(ctx, l.o, func() (bool, error) {
		s, err := l.session(ctx)
		if err != nil {
			return false, err
		}
		mu := concurrency.NewMutex(s.Session, KeyPrefix+key)
		switch err := mu.TryLock(ctx); {
		case errors.Is(err, concurrency.ErrLocked):
			return false, nil // TryLock wrote its waiter's key and deleted it again: nothing changed
		case errors.Is(err, errLeaseNotFound):
			l.drop(s) // the session's lease is gone, so the transaction wrote nothing; the next try opens another
			return false, nil
		case err != nil:
			l.abandon(s)
			return false, indeterminate("TryLock", err)
		}
		if err := l.o.At(ctx, lock.StepAfterReplies); err != nil {
			return false, err
		}
		won = &mutexLease{l: l, s: s, mu: mu}
		if l.fenced {
			won.fence = mu.Header().Revision
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return won, nil
}

// session returns the worker's session, opening one on the member in use when it has none or its last one
// ended (Done).
func (l *mutexLocker) session(ctx context.Context) (*session, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s != nil {
		select {
		case <-l.s.Done():
			l.s = nil
		default:
			return l.s, nil
		}
	}
	i, c := l.m.client()
	s, err := openSession(ctx, c, i, l.o)
	if err != nil {
		l.m.failed(i)
		return nil, err
	}
	l.s = s
	return s, nil
}

// drop forgets a session whose lease is gone.
func (l *mutexLocker) drop(s *session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == s {
		l.s = nil
	}
	go s.Orphan()
}

// abandon gives up a session after a request whose outcome is unknown: its keep-alives stop, so its lease expires
// a TTL later with whatever key it may hold (a lock won by a request whose answer was lost, a release that may not
// have landed), and the next acquisition opens a session on the next member.
func (l *mutexLocker) abandon(s *session) {
	l.m.failed(s.member)
	l.drop(s)
}

// session is a worker's concurrency.Session on one member, with the worker's account of its lease: the send time
// of the grant or of the last renewal the session's keep-alive loop got an answer to, plus the TTL granted
// (renewals.go reads those send times off the wire).
type session struct {
	*concurrency.Session
	c      *clientv3.Client
	member int
	v      validity
}

// openSession grants a lease of the options' TTL through c and starts a session on it. The lease is granted here
// rather than by NewSession, so that the grant is bounded by ctx and its send time and granted TTL are known.
func openSession(ctx context.Context, c *clientv3.Client, member int, o lock.Options) (*session, error) {
	sent := o.Now()
	g, err := c.Grant(ctx, TTLSeconds(o.TTL))
	if err != nil {
		return nil, indeterminate("grant", err)
	}
	s := &session{c: c, member: member}
	s.v.renewed(sent, g.TTL)
	stop := accountRenewals(g.ID, &s.v, o.Now) // before the session's first keep-alive goes out
	cs, err := concurrency.NewSession(c, concurrency.WithLease(g.ID), concurrency.WithTTL(int(g.TTL)))
	if err != nil {
		stop()
		return nil, indeterminate("session", err)
	}
	s.Session = cs
	go func() {
		<-cs.Done()
		stop()
	}()
	return s, nil
}

// mutexLease is a lock held through a session.
type mutexLease struct {
	l     *mutexLocker
	s     *session
	mu    *concurrency.Mutex
	fence int64
}

// Fence is the lock's revision for etcd-mutex-fenced, 0 for etcd-mutex.
func (s *mutexLease) Fence() int64 { return s.fence }

// ValidUntil is the worker's account of the session's lease: the send time of its last acknowledged renewal (or
// of the grant) plus the granted TTL. It needs clients made with DialOption.
func (s *mutexLease) ValidUntil() time.Time { return s.s.v.get() }

// SelfRenewing implements lock.SelfRenewing: the session keeps the lease alive.
func (s *mutexLease) SelfRenewing() bool { return true }

// Lost implements lock.LossNotifier with the session's Done channel, as a user of concurrency.Mutex watches it.
func (s *mutexLease) Lost() <-chan struct{} { return s.s.Done() }

// Extend renews the session's lease once. The worker does not call it (the lease renews itself).
func (s *mutexLease) Extend(ctx context.Context) error {
	return keepAliveOnce(ctx, s.s.c, s.s.Lease(), &s.s.v, s.l.o.Now)
}

// Release deletes the holder's key: the request Mutex.Unlock sends, with its answer read, since Unlock throws
// away the count of deleted keys and so cannot tell a lock that was already gone (lock.ErrLockLost here). A
// release whose outcome is unknown abandons the session, so that a key it may have left expires with its lease.
func (s *mutexLease) Release(ctx context.Context) error {
	r, err := s.s.c.Delete(ctx, s.mu.Key())
	if err != nil {
		s.l.abandon(s.s)
		return indeterminate("unlock", err)
	}
	if r.Deleted == 0 {
		return lock.ErrLockLost
	}
	return nil
}

func init() {
	lock.Register(lock.Info{
		Name: "etcd-mutex", System: System,
		Summary:  "etcd's concurrency.Mutex (TryLock) on a per-worker session that keeps its lease alive; Lost() is the session's Done()",
		Origin:   "go.etcd.io/etcd/client/v3/concurrency; Jepsen's etcd 3.4.3 analysis (2020)",
		Weakness: "no fencing: a holder paused or cut off past its lease's TTL writes after the next holder",
		Make:     func() lock.Strategy { return Mutex{} },
	})
	lock.Register(lock.Info{
		Name: "etcd-mutex-fenced", System: System, Fenced: true,
		Summary:  "etcd-mutex whose fencing token is the lock's revision, which the resource enforces",
		Origin:   "go.etcd.io/etcd/client/v3/concurrency (Mutex.Header().Revision); Kleppmann's fencing tokens",
		Weakness: "none the resource cannot catch: a stale holder's revision is smaller than its successor's",
		Make:     func() lock.Strategy { return Mutex{Fenced: true} },
	})
}
