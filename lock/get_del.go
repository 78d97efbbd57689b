package lock

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// GetDel is the lock article [C] warns about: a random token set with SET NX PX, but released by a GET, a comparison
// in the client, then a DEL, as two separate commands. If the lock expires between them and another client takes
// it, the DEL deletes that client's lock. Extend has the same shape (GET, compare, PEXPIRE) and so renews
// someone else's lock in the same window.
type GetDel struct{}

// Name implements Strategy.
func (GetDel) Name() string { return "get-del" }

// New implements Strategy; it uses nodes[0] only.
func (GetDel) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &getDelLocker{lua: luaLocker{c: nodes[0], opt: opt.WithDefaults()}}
}

// Steps implements Stepper.
func (GetDel) Steps() []string {
	return []string{StepAfterReplies, StepBetweenGetAndExpire, StepBetweenGetAndDel}
}

// getDelLocker acquires exactly as lua does; only the release and the renewal differ.
type getDelLocker struct{ lua luaLocker }

func (l *getDelLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	lease, err := l.lua.Acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	ll := lease.(*luaLease)
	return &getDelLease{c: l.lua.c, opt: l.lua.opt, key: key, token: ll.token, until: ll.until}, nil
}

// getDelLease believes its lock lasts a TTL from the start of its last successful SET or PEXPIRE.
type getDelLease struct {
	c          redis.UniversalClient
	opt        Options
	key, token string
	until      time.Time
}

func (s *getDelLease) Fence() int64          { return 0 }
func (s *getDelLease) ValidUntil() time.Time { return s.until }

// mine reads the key and reports whether it still holds our token.
func (s *getDelLease) mine(ctx context.Context) (bool, error) {
	v, err := s.c.Get(ctx, s.key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, indeterminate("GET", err)
	}
	return v == s.token, nil
}

// Extend checks the token with GET, then renews with a separate PEXPIRE: whatever is under the key by then.
func (s *getDelLease) Extend(ctx context.Context) error {
	ok, err := s.mine(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return ErrLockLost
	}
	if err := s.opt.step(ctx, StepBetweenGetAndExpire); err != nil {
		return err
	}
	start := s.opt.Now()
	ok, err = s.c.PExpire(ctx, s.key, s.opt.TTL).Result()
	if err != nil {
		return indeterminate("PEXPIRE", err)
	}
	if !ok {
		return ErrLockLost
	}
	s.until = start.Add(s.opt.TTL)
	return nil
}

// Release checks the token with GET, then deletes with a separate DEL: whatever is under the key by then.
func (s *getDelLease) Release(ctx context.Context) error {
	ok, err := s.mine(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return ErrLockLost
	}
	if err := s.opt.step(ctx, StepBetweenGetAndDel); err != nil {
		return err
	}
	n, err := s.c.Del(ctx, s.key).Result()
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
		Name: "get-del", Summary: "random token, SET NX PX; release = GET, compare in the client, then DEL (not atomic)",
		Origin:   "[C]",
		Weakness: "the lock expires between GET and DEL and the DEL deletes the next holder's lock",
		Make:     func() Strategy { return GetDel{} },
	})
}
