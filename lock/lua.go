package lock

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lua is the single-node lock of articles [B] and [C] (docs/sources.md) done right: a random token set with SET NX PX, a Lua
// compare-and-delete release and a Lua compare-and-PEXPIRE renewal, so a holder only ever touches its own lock.
// One node is one point of failure: a restart without persistence, a failover or a clock jump forgets the lock.
type Lua struct {
	mut mutation // a planted bug (see Mutants); zero is the lock as written
}

// Name implements Strategy.
func (Lua) Name() string { return "lua" }

// New implements Strategy; it uses nodes[0] only.
func (m Lua) New(nodes []redis.UniversalClient, opt Options) Locker {
	l := &luaLocker{c: nodes[0], opt: opt.WithDefaults(), mut: m.mut}
	if m.mut == mutTokenReused {
		l.fixed = token(l.opt)
	}
	return l
}

// Steps implements Stepper.
func (Lua) Steps() []string { return []string{StepAfterReplies} }

type luaLocker struct {
	c     redis.UniversalClient
	opt   Options
	mut   mutation
	fixed string // the one token of every acquisition, under mutTokenReused
}

func (l *luaLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	tok := token(l.opt)
	if l.fixed != "" {
		tok = l.fixed
	}
	var start time.Time
	err := retry(ctx, l.opt, func() (bool, error) {
		start = l.opt.Now()
		ok, err := l.c.SetNX(ctx, key, tok, l.opt.TTL).Result()
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
	if l.mut == mutLeaseFromEnd {
		start = l.opt.Now() // the bug: the lease counted from the reply, not from before the SET was sent
	}
	return &luaLease{l: l, key: key, token: tok, until: start.Add(l.opt.TTL)}, nil
}

type luaLease struct {
	l          *luaLocker
	key, token string
	until      time.Time
}

func (s *luaLease) Fence() int64          { return 0 }
func (s *luaLease) ValidUntil() time.Time { return s.until }

func (s *luaLease) Extend(ctx context.Context) error {
	start := s.l.opt.Now()
	var n int
	var err error
	switch s.l.mut {
	case mutRenewUnchecked: // the bug: PEXPIRE whatever lock is under the key
		var ok bool
		ok, err = s.l.c.PExpire(ctx, s.key, s.l.opt.TTL).Result()
		n = boolInt(ok)
	case mutRenewRevives: // the bug: SET the token again, over whatever is under the key
		err = s.l.c.Set(ctx, s.key, s.token, s.l.opt.TTL).Err()
		n = 1
	default:
		n, err = extendScript.Run(ctx, s.l.c, []string{s.key}, s.token, s.l.opt.TTL.Milliseconds()).Int()
	}
	if err != nil {
		return indeterminate("extend", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	s.until = start.Add(s.l.opt.TTL)
	return nil
}

func (s *luaLease) Release(ctx context.Context) error {
	var n int
	var err error
	if s.l.mut == mutReleaseUnchecked { // the bug: DEL whatever lock is under the key
		var d int64
		d, err = s.l.c.Del(ctx, s.key).Result()
		n = int(d)
	} else {
		n, err = releaseScript.Run(ctx, s.l.c, []string{s.key}, s.token).Int()
	}
	if err != nil {
		return indeterminate("release", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	return nil
}

func init() {
	Register(Info{
		Name: "lua", Summary: "random token, SET NX PX, Lua compare-and-delete and compare-and-PEXPIRE", Origin: "[B], [C]",
		Weakness: "one node: a restart, failover or clock jump forgets the lock", Make: func() Strategy { return Lua{} },
	})
}
