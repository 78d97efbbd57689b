package lock

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lua is the single-node lock of seeds 000 and 001 done right: a random token set with SET NX PX, a Lua
// compare-and-delete release and a Lua compare-and-PEXPIRE renewal, so a holder only ever touches its own lock.
// One node is one point of failure: a restart without persistence, a failover or a clock jump forgets the lock.
type Lua struct{}

// Name implements Strategy.
func (Lua) Name() string { return "lua" }

// New implements Strategy; it uses nodes[0] only.
func (Lua) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &luaLocker{c: nodes[0], opt: opt.WithDefaults()}
}

type luaLocker struct {
	c   redis.UniversalClient
	opt Options
}

func (l *luaLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	tok := token(l.opt)
	var start time.Time
	err := retry(ctx, l.opt, func() (bool, error) {
		start = l.opt.Now()
		ok, err := l.c.SetNX(ctx, key, tok, l.opt.TTL).Result()
		if err != nil {
			return false, indeterminate("SET NX", err)
		}
		return ok, nil
	})
	if err != nil {
		return nil, err
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
	n, err := extendScript.Run(ctx, s.l.c, []string{s.key}, s.token, s.l.opt.TTL.Milliseconds()).Int()
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
	n, err := releaseScript.Run(ctx, s.l.c, []string{s.key}, s.token).Int()
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
		Name: "lua", Summary: "random token, SET NX PX, Lua compare-and-delete and compare-and-PEXPIRE", Origin: "seeds 000, 001",
		Weakness: "one node: a restart, failover or clock jump forgets the lock", Make: func() Strategy { return Lua{} },
	})
}
