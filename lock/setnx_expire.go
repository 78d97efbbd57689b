package lock

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetNXExpire is the early two-step lock article [B] starts from: `SETNX key 1`, then a separate
// `PEXPIRE key ttl`. Between the two commands the key exists with no time to live, so a client that dies, stalls
// past its timeout or loses its connection there leaves a lock that never expires and that nobody can ever take
// again. Release is an unconditional DEL and Extend an unconditional PEXPIRE, as in setnx-del: the value carries
// no identity either.
type SetNXExpire struct{}

// Name implements Strategy.
func (SetNXExpire) Name() string { return "setnx-expire" }

// Steps implements Stepper.
func (SetNXExpire) Steps() []string { return []string{StepBetweenSetNXAndExpire, StepAfterReplies} }

// New implements Strategy; it uses nodes[0] only.
func (SetNXExpire) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &setnxExpireLocker{c: nodes[0], opt: opt.WithDefaults()}
}

type setnxExpireLocker struct {
	c   redis.UniversalClient
	opt Options
}

// Acquire sends SETNX, then PEXPIRE. A failure of the PEXPIRE, or a client that stops between the two
// (Options.Step at StepBetweenSetNXAndExpire), is reported as indeterminate: the key may now stay forever.
func (l *setnxExpireLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	var start time.Time
	err := retry(ctx, l.opt, func() (bool, error) {
		ok, err := l.c.Do(ctx, "SETNX", key, 1).Bool()
		if err != nil {
			return false, indeterminate("SETNX", err)
		}
		if !ok {
			return false, nil
		}
		if err := l.opt.step(ctx, StepBetweenSetNXAndExpire); err != nil {
			return false, err
		}
		start = l.opt.Now()
		ok, err = l.c.PExpire(ctx, key, l.opt.TTL).Result()
		if err != nil {
			return false, indeterminate("PEXPIRE after SETNX (the key may never expire)", err)
		}
		if !ok {
			// Someone deleted the key between our two commands (an unconditional DEL): we hold nothing.
			return false, fmt.Errorf("%w: the key vanished between SETNX and PEXPIRE", ErrNotAcquired)
		}
		if err := l.opt.step(ctx, StepAfterReplies); err != nil {
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &setnxExpireLease{l: l, key: key, until: start.Add(l.opt.TTL)}, nil
}

// setnxExpireLease believes its lock lasts a TTL from the moment its PEXPIRE was sent.
type setnxExpireLease struct {
	l     *setnxExpireLocker
	key   string
	until time.Time
}

func (s *setnxExpireLease) Fence() int64          { return 0 }
func (s *setnxExpireLease) ValidUntil() time.Time { return s.until }

// Extend renews whatever lock is under the key, ours or not.
func (s *setnxExpireLease) Extend(ctx context.Context) error {
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
func (s *setnxExpireLease) Release(ctx context.Context) error {
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
		Name: "setnx-expire", Summary: "SETNX k 1, then a separate PEXPIRE k ttl; release by unconditional DEL",
		Origin:   "[B]",
		Weakness: "a client that dies or times out between SETNX and PEXPIRE leaves a lock that never expires",
		Make:     func() Strategy { return SetNXExpire{} },
	})
}
