package lock

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LuaWatchdogCancel is lua's lock with a watchdog that tells its holder: every TTL/3 it renews with lua's
// compare-and-PEXPIRE to the TTL, and when a renewal fails (an error or a 0 reply) or the lease's validity (the
// start of the last successful renewal + TTL) passes before a renewal succeeds, it closes the lease's Lost
// channel, so the holder abandons its work. Only what the holder cannot notice beats it: a pause between its last
// look at Lost and its write.
type LuaWatchdogCancel struct {
	mut mutation // a planted bug (see Mutants); zero is the lock as written
}

// Name implements Strategy.
func (LuaWatchdogCancel) Name() string { return "lua-watchdog-cancel" }

// New implements Strategy; it uses nodes[0] only.
func (m LuaWatchdogCancel) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &luaWatchdogCancelLocker{lua: luaLocker{c: nodes[0], opt: opt.WithDefaults()}, mut: m.mut}
}

// Steps implements Stepper: the watchdog calls StepInRenewal itself, before each renewal.
func (LuaWatchdogCancel) Steps() []string { return []string{StepAfterReplies, StepInRenewal} }

type luaWatchdogCancelLocker struct {
	lua luaLocker
	mut mutation
}

// Acquire takes the lock as lua does and starts the watchdog.
func (l *luaWatchdogCancelLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	lease, err := l.lua.Acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	ll := lease.(*luaLease)
	s := &luaWatchdogCancelLease{
		l: &l.lua, key: key, token: ll.token, until: ll.until, mut: l.mut,
		lost: make(chan struct{}), done: make(chan struct{}),
	}
	// The watchdog outlives the Acquire call (whose context ends when it returns): it runs on its own context,
	// ended by Release, by a loss, or by the clients being closed (an error, hence a loss).
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.watch(wctx)
	return s, nil
}

type luaWatchdogCancelLease struct {
	l          *luaLocker
	key, token string
	mut        mutation
	renewals   int // renewals sent so far

	mu    sync.Mutex
	until time.Time // start of the last successful renewal (or of the acquisition) + TTL

	lost     chan struct{}
	lostOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

func (s *luaWatchdogCancelLease) Fence() int64 { return 0 }

// SelfRenewing implements SelfRenewing: the worker leaves the renewals to the watchdog.
func (s *luaWatchdogCancelLease) SelfRenewing() bool { return true }

// Lost implements LossNotifier: it is closed when a renewal failed or the validity passed.
func (s *luaWatchdogCancelLease) Lost() <-chan struct{} { return s.lost }

// ValidUntil is the start of the last successful renewal (or of the acquisition) + TTL.
func (s *luaWatchdogCancelLease) ValidUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.until
}

func (s *luaWatchdogCancelLease) renewed(start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := start.Add(s.l.opt.TTL); u.After(s.until) {
		s.until = u
	}
}

func (s *luaWatchdogCancelLease) lose() { s.lostOnce.Do(func() { close(s.lost) }) }

// watch renews every TTL/3 and closes Lost at the first failure, or when the validity runs out first (a renewal
// that hangs is cut off at the validity's end: after it, renewing could not make the holder's work safe).
func (s *luaWatchdogCancelLease) watch(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(watchdogInterval(s.l.opt.TTL))
	defer t.Stop()
	for {
		until := s.ValidUntil()
		expiry := time.NewTimer(until.Sub(s.l.opt.Now()))
		select {
		case <-ctx.Done():
			expiry.Stop()
			return
		case <-expiry.C:
			s.lose()
			return
		case <-t.C:
			expiry.Stop()
		}
		if err := s.l.opt.step(ctx, StepInRenewal); err != nil {
			return // the client crashed: its watchdog dies with it
		}
		start := s.l.opt.Now()
		s.renewals++
		if s.mut == mutWatchdogStops && s.renewals > 1 {
			s.renewed(start) // the bug: no renewal is sent after the first, yet the holder believes in each one
			continue
		}
		rctx, cancel := context.WithDeadline(ctx, until)
		n, err := extendScript.Run(rctx, s.l.c, []string{s.key}, s.token, s.l.opt.TTL.Milliseconds()).Int()
		cancel()
		if ctx.Err() != nil {
			return // released meanwhile: not a loss
		}
		if err != nil || n == 0 {
			s.lose()
			return
		}
		s.renewed(start)
	}
}

// stop ends the watchdog and waits for its goroutine, so that no renewal is sent after it returns.
func (s *luaWatchdogCancelLease) stop() {
	s.stopOnce.Do(s.cancel)
	<-s.done
}

// Extend is a manual renewal, the same compare-and-PEXPIRE as the watchdog's. The worker does not call it.
func (s *luaWatchdogCancelLease) Extend(ctx context.Context) error {
	start := s.l.opt.Now()
	n, err := extendScript.Run(ctx, s.l.c, []string{s.key}, s.token, s.l.opt.TTL.Milliseconds()).Int()
	if err != nil {
		return indeterminate("extend", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	s.renewed(start)
	return nil
}

// Release stops the watchdog, then deletes the lock with the Lua compare-and-delete.
func (s *luaWatchdogCancelLease) Release(ctx context.Context) error {
	s.stop()
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
		Name:     "lua-watchdog-cancel",
		Summary:  "lua + a watchdog renewing every ttl/3 with compare-and-PEXPIRE; closes Lost() when a renewal fails or validity ends",
		Origin:   "[B] (its watchdog, made to tell the holder)",
		Weakness: "a pause between the holder's last check and its write",
		Make:     func() Strategy { return LuaWatchdogCancel{} },
	})
}
