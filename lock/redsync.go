package lock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-redsync/redsync/v4"
	rsredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
)

// Redsync is github.com/go-redsync/redsync/v4, the library article [D] recommends, over its go-redis v9 pool: one
// pool per node, built from the worker's own clients. It is Redlock as that library implements it: parallel SET NX
// PX, validity = TTL − elapsed − TTL×DriftFactor, release everywhere after a failed try, majority extend.
//
// Options map onto its options: WithExpiry = TTL, WithTries = Retries+1, the retry delay drawn by Options.Backoff,
// WithDriftFactor = DriftFactor, WithTimeoutFactor = NodeTimeout/TTL, and the lock values drawn from Options.Rand
// so that a run replays from its seed. Redsync reads its own clock (time.Now), not Options.Now.
//
// Redsync bounds each try by a context deadline of TTL×timeoutFactor over all nodes at once (its per-node
// timeout); go-redis honours a context deadline on the socket only with ContextTimeoutEnabled set, and would
// retry a failed command behind redsync's back unless MaxRetries is -1. The worker's clients have both; with
// other clients a dead node can hold a try for the client's ReadTimeout. Extend and Release get no timeout from
// redsync: only the caller's context bounds them.
//
// Its errors are mapped onto the sentinels and kept visible (wrapped): a try that found the lock held (ErrFailed,
// *ErrTaken, *ErrNodeTaken) is ErrNotAcquired; an extension or release that found it gone (ErrExtendFailed,
// ErrLockAlreadyExpired, or held by someone else) is ErrLockLost; any node error (*RedisError) is indeterminate.
type Redsync struct{}

// Name implements Strategy.
func (Redsync) Name() string { return "redsync" }

// New implements Strategy.
func (Redsync) New(nodes []redis.UniversalClient, opt Options) Locker {
	opt = opt.WithDefaults()
	pools := make([]rsredis.Pool, 0, len(nodes))
	for _, c := range nodes {
		pools = append(pools, goredis.NewPool(c))
	}
	return &redsyncLocker{rs: redsync.New(pools...), opt: opt}
}

type redsyncLocker struct {
	rs  *redsync.Redsync
	opt Options
}

// redsyncTimeoutFactor returns the factor f for which redsync's per-try timeout, computed by it as
// time.Duration(int64(float64(ttl)*f)), equals nodeTimeout: the plain quotient can fall a nanosecond short.
func redsyncTimeoutFactor(nodeTimeout, ttl time.Duration) float64 {
	f := float64(nodeTimeout) / float64(ttl)
	for i := 0; i < 4 && time.Duration(int64(float64(ttl)*f)) < nodeTimeout; i++ {
		f = math.Nextafter(f, math.Inf(1))
	}
	return f
}

// mutexOptions maps Options onto redsync's.
func (l *redsyncLocker) mutexOptions() []redsync.Option {
	o := l.opt
	return []redsync.Option{
		redsync.WithExpiry(o.TTL),
		redsync.WithTries(o.Retries + 1),
		redsync.WithRetryDelayFunc(func(tries int) time.Duration { return o.Backoff(tries - 1) }),
		redsync.WithDriftFactor(o.DriftFactor),
		redsync.WithTimeoutFactor(redsyncTimeoutFactor(o.NodeTimeout, o.TTL)),
		redsync.WithGenValueFunc(func() (string, error) { return token(o), nil }),
	}
}

func (l *redsyncLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	m := l.rs.NewMutex(key, l.mutexOptions()...)
	if err := m.LockContext(ctx); err != nil {
		return nil, redsyncError("redsync lock", err, ErrNotAcquired, redsyncHeld)
	}
	return &redsyncLease{m: m}, nil
}

// redsyncHeld reports whether err says the lock was held elsewhere, every node having answered.
func redsyncHeld(err error) bool {
	var taken *redsync.ErrTaken
	var nodeTaken *redsync.ErrNodeTaken
	return errors.Is(err, redsync.ErrFailed) || errors.As(err, &taken) || errors.As(err, &nodeTaken)
}

// redsyncGone reports whether err says the lock was gone or someone else's, every node having answered.
func redsyncGone(err error) bool {
	return errors.Is(err, redsync.ErrExtendFailed) || errors.Is(err, redsync.ErrLockAlreadyExpired) || redsyncHeld(err)
}

// redsyncNodeError reports whether any node failed to answer: then the outcome on that node is unknown.
func redsyncNodeError(err error) bool {
	var p *redsync.RedisError
	var v redsync.RedisError
	return errors.As(err, &p) || errors.As(err, &v)
}

// redsyncError maps one of redsync's errors: a node error is indeterminate whatever else happened; an error that
// definite() recognises wraps the sentinel (and keeps redsync's error visible and matchable); anything else is
// indeterminate too.
func redsyncError(op string, err error, sentinel error, definite func(error) bool) error {
	if !redsyncNodeError(err) && definite(err) {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return indeterminate(op, err)
}

// redsyncLease's ValidUntil is redsync's own: the end of the try (or extension) + TTL − elapsed − drift.
type redsyncLease struct{ m *redsync.Mutex }

func (s *redsyncLease) Fence() int64          { return 0 }
func (s *redsyncLease) ValidUntil() time.Time { return s.m.Until() }

func (s *redsyncLease) Extend(ctx context.Context) error {
	ok, err := s.m.ExtendContext(ctx)
	if ok {
		return nil
	}
	if err == nil {
		err = redsync.ErrExtendFailed
	}
	return redsyncError("redsync extend", err, ErrLockLost, redsyncGone)
}

func (s *redsyncLease) Release(ctx context.Context) error {
	ok, err := s.m.UnlockContext(ctx)
	if ok {
		return nil
	}
	if err == nil {
		err = redsync.ErrLockAlreadyExpired
	}
	return redsyncError("redsync unlock", err, ErrLockLost, redsyncGone)
}

func init() {
	Register(Info{
		Name:     "redsync",
		Summary:  "github.com/go-redsync/redsync/v4 over go-redis v9 pools, one per node",
		Origin:   "[D]",
		Weakness: "as redlock: a restart without persistence, a clock jump or a long pause",
		Make:     func() Strategy { return Redsync{} },
	})
}
