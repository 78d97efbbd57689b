package lock

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultWatchdogRenewal is what article [B]'s watchdog sets the lock's expiry to at every renewal: 30 seconds,
// whatever the TTL the lock was taken with. With a short TTL this means a holder that dies after one renewal
// blocks everyone for 30 seconds, not for a TTL.
const DefaultWatchdogRenewal = 30 * time.Second

// watchdogScript is article [B]'s renewal, as written: EXPIRE in whole seconds, and a reply of 1 whatever EXPIRE
// itself answered.
var watchdogScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then
redis.call("expire", KEYS[1], ARGV[2])
return 1
else
return 0
end`)

// LuaWatchdog is lua's lock with article [B]'s watchdog: a goroutine renews the lock every TTL/3 with the
// compare-and-EXPIRE script above, setting it to Renewal (30 s) each time. Any renewal error, or a 0 reply (the
// key gone or someone else's), ends the watchdog silently: the holder is never told, and goes on believing its
// lock is being renewed. That belief is what ValidUntil reports, so a careful client's check cannot save it.
type LuaWatchdog struct {
	// Renewal is the expiry every renewal sets, in whole seconds as EXPIRE takes them (a value under one second
	// counts as one). Zero means DefaultWatchdogRenewal, as in the article. A scenario sets it with
	// `strategy_options: {lua-watchdog: {renewal: 2s}}`.
	Renewal time.Duration `yaml:"renewal" json:"renewal,omitempty"`
}

// Name implements Strategy.
func (LuaWatchdog) Name() string { return "lua-watchdog" }

// Steps implements Stepper: the watchdog calls StepInRenewal itself, before each renewal.
func (LuaWatchdog) Steps() []string { return []string{StepAfterReplies, StepInRenewal} }

// New implements Strategy; it uses nodes[0] only.
func (w LuaWatchdog) New(nodes []redis.UniversalClient, opt Options) Locker {
	r := w.Renewal
	if r <= 0 {
		r = DefaultWatchdogRenewal
	}
	secs := int64(r / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &luaWatchdogLocker{lua: luaLocker{c: nodes[0], opt: opt.WithDefaults()}, renewal: time.Duration(secs) * time.Second}
}

type luaWatchdogLocker struct {
	lua     luaLocker
	renewal time.Duration
}

// watchdogInterval is how often both watchdogs renew: a third of the TTL, as in the article (30 s, every 10 s).
func watchdogInterval(ttl time.Duration) time.Duration { return max(ttl/3, time.Millisecond) }

// Acquire takes the lock as lua does and starts the watchdog.
func (l *luaWatchdogLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	lease, err := l.lua.Acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	ll := lease.(*luaLease)
	s := &luaWatchdogLease{
		l: l, key: key, token: ll.token, acquired: ll.until,
		interval: watchdogInterval(l.lua.opt.TTL), done: make(chan struct{}),
	}
	// The watchdog outlives the Acquire call (whose context ends when it returns), so it runs on its own
	// context, ended by Release or by its first failure.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.started = l.lua.opt.Now()
	go s.watch(wctx)
	return s, nil
}

type luaWatchdogLease struct {
	l          *luaWatchdogLocker
	key, token string
	// acquired is the validity the acquisition gave (its start + TTL); started is when the watchdog's ticker
	// began, from which the holder counts the renewal ticks it believes in.
	acquired, started time.Time
	interval          time.Duration

	mu       sync.Mutex
	extended time.Time // start + TTL of the last successful manual Extend

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

func (s *luaWatchdogLease) Fence() int64 { return 0 }

// SelfRenewing implements SelfRenewing: the worker leaves the renewals to the watchdog.
func (s *luaWatchdogLease) SelfRenewing() bool { return true }

// ValidUntil is the holder's belief: the watchdog renews every interval, each renewal to Renewal from its tick, so
// the lock lasts until the latest tick plus Renewal. The holder never learns that a renewal failed or that the
// watchdog stopped, so the belief goes on advancing with every tick after the lock is gone.
func (s *luaWatchdogLease) ValidUntil() time.Time {
	until := s.acquired
	if k := s.l.lua.opt.Now().Sub(s.started) / s.interval; k >= 1 {
		if t := s.started.Add(k * s.interval).Add(s.l.renewal); t.After(until) {
			until = t
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extended.After(until) {
		until = s.extended
	}
	return until
}

// watch is article [B]'s renewLock: on every tick, the compare-and-EXPIRE script; an error or a 0 reply returns,
// and nobody hears of it.
func (s *luaWatchdogLease) watch(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	secs := int64(s.l.renewal / time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.l.lua.opt.step(ctx, StepInRenewal); err != nil {
			return // the client crashed: its watchdog dies with it
		}
		res, err := watchdogScript.Run(ctx, s.l.lua.c, []string{s.key}, s.token, secs).Int64()
		if err != nil || res == 0 {
			return
		}
	}
}

// stop ends the watchdog and waits for its goroutine, so that no renewal is sent after it returns. A renewal in
// flight is cut short by the cancelled context when the client honours it (ContextTimeoutEnabled, as the
// worker's clients do); otherwise the wait lasts until the client's own read timeout.
func (s *luaWatchdogLease) stop() {
	s.stopOnce.Do(s.cancel)
	<-s.done
}

// Extend is a manual renewal with lua's compare-and-PEXPIRE to the TTL. The worker does not call it (the lease
// is self-renewing); it is there for callers that renew by hand as well.
func (s *luaWatchdogLease) Extend(ctx context.Context) error {
	start := s.l.lua.opt.Now()
	n, err := extendScript.Run(ctx, s.l.lua.c, []string{s.key}, s.token, s.l.lua.opt.TTL.Milliseconds()).Int()
	if err != nil {
		return indeterminate("extend", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	s.mu.Lock()
	s.extended = start.Add(s.l.lua.opt.TTL)
	s.mu.Unlock()
	return nil
}

// Release stops the watchdog, then deletes the lock with the Lua compare-and-delete.
func (s *luaWatchdogLease) Release(ctx context.Context) error {
	s.stop()
	n, err := releaseScript.Run(ctx, s.l.lua.c, []string{s.key}, s.token).Int()
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
		Name:     "lua-watchdog",
		Summary:  "lua + a watchdog renewing every ttl/3 to 30 s with compare-and-EXPIRE; a failed renewal ends it silently",
		Origin:   "[B]",
		Weakness: "the holder keeps working after its renewals fail, never told its lock is gone",
		Make:     func() Strategy { return LuaWatchdog{} },
		Params:   func() any { return &LuaWatchdog{} },
	})
}
