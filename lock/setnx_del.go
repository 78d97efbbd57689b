package lock

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetNXDel is the naive lock of article [A]: `SET key 1 NX PX ttl` to acquire, an unconditional `DEL key` to release.
// The value carries no identity, so a holder whose lock expired deletes whoever holds it now. Extend is an
// unconditional PEXPIRE, equally blind.
type SetNXDel struct{}

// Name implements Strategy.
func (SetNXDel) Name() string { return "setnx-del" }

// Steps implements Stepper.
func (SetNXDel) Steps() []string { return []string{StepAfterReplies} }

// New implements Strategy; it uses nodes[0] only.
func (SetNXDel) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &setnxDelLocker{c: nodes[0], opt: opt.WithDefaults()}
}

type setnxDelLocker struct {
	c   redis.UniversalClient
	opt Options
}

func (l *setnxDelLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	var start time.Time
	err := retry(ctx, l.opt, func() (bool, error) {
		start = l.opt.Now()
		ok, err := l.c.SetNX(ctx, key, 1, l.opt.TTL).Result()
		if err != nil {
			return false, indeterminate("SET NX", err)
		}
		if ok {
			if err := l.opt.step(ctx, StepAfterReplies); err != nil {
				return false, err
			}
		}
		return ok, nil
	})
	if err != nil {
		return nil, err
	}
	return &setnxDelLease{l: l, key: key, until: start.Add(l.opt.TTL)}, nil
}

type setnxDelLease struct {
	l     *setnxDelLocker
	key   string
	until time.Time
}

func (s *setnxDelLease) Fence() int64          { return 0 }
func (s *setnxDelLease) ValidUntil() time.Time { return s.until }

// Extend renews whatever lock is under the key, ours or not.
func (s *setnxDelLease) Extend(ctx context.Context) error {
	start := s.l.opt.Now()
	ok, err := s.l.c.PExpire(ctx, s.key, s.l.opt.TTL).Result()
	if err != nil {
		return indeterminate("PEXPIRE", err)
	}
	if !ok {
		return ErrLockLost
	}
	s.until = start.Add(s.l.opt.TTL)
	return nil
}

// Release deletes the key, whoever holds it.
func (s *setnxDelLease) Release(ctx context.Context) error {
	n, err := s.l.c.Del(ctx, s.key).Result()
	if err != nil {
		return indeterminate("DEL", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	return nil
}

func init() {
	Register(Info{
		Name: "setnx-del", Summary: "SET k 1 NX PX ttl; release by unconditional DEL", Origin: "[A]",
		Weakness: "a holder whose lock expired deletes the next holder's lock", Make: func() Strategy { return SetNXDel{} },
	})
}
