package lock

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redlock is the algorithm of article [C] in full: SET NX PX with one token on every node in parallel, each bounded
// by the per-node timeout; the lock holds when a majority granted it and validity = TTL − elapsed − drift is still
// positive, drift being TTL×DriftFactor + 2ms; otherwise it is released on every node before retrying. Extend
// renews on a majority. It assumes nodes do not forget (no restart without fsync) and clocks do not jump.
type Redlock struct {
	mut mutation // a planted bug (see Mutants); zero is the algorithm as written
}

// Name implements Strategy.
func (Redlock) Name() string { return "redlock" }

// New implements Strategy.
func (m Redlock) New(nodes []redis.UniversalClient, opt Options) Locker {
	return newRedlockLocker(nodes, opt, m.mut)
}

// Steps implements Stepper.
func (Redlock) Steps() []string { return []string{StepAfterReplies} }

func newRedlockLocker(nodes []redis.UniversalClient, opt Options, mut mutation) *redlockLocker {
	opt = opt.WithDefaults()
	if mut == mutNoBackoff { // the bug: retry at once, every contender in lock step
		opt.RetryDelay, opt.RetryMaxDelay = time.Nanosecond, time.Nanosecond
	}
	return &redlockLocker{nodes: nodes, opt: opt, mut: mut}
}

type redlockLocker struct {
	nodes []redis.UniversalClient
	opt   Options
	mut   mutation
}

func (l *redlockLocker) quorum() int {
	if l.mut == mutQuorumHalf {
		return len(l.nodes) / 2 // the bug: two of five is "a majority"
	}
	return len(l.nodes)/2 + 1
}

func (l *redlockLocker) drift() time.Duration {
	if l.mut == mutDriftIgnored {
		return 0 // the bug: clocks are assumed to agree exactly
	}
	return time.Duration(float64(l.opt.TTL)*l.opt.DriftFactor) + 2*time.Millisecond
}

// fanOut runs f on every node in parallel, each under the per-node timeout, and returns how many said yes and how
// many failed with an error (outcome unknown on that node).
func (l *redlockLocker) fanOut(ctx context.Context, f func(ctx context.Context, c redis.UniversalClient) (bool, error)) (yes, errs int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range l.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nctx, cancel := context.WithTimeout(ctx, l.opt.NodeTimeout)
			ok, err := f(nctx, c)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
			} else if ok {
				yes++
			}
		}()
	}
	wg.Wait()
	return yes, errs
}

func (l *redlockLocker) releaseAll(key, tok string) {
	// Releasing must not be cut short by the caller's context: partial locks left behind block others.
	ctx, cancel := context.WithTimeout(context.Background(), l.opt.NodeTimeout)
	defer cancel()
	l.fanOut(ctx, func(ctx context.Context, c redis.UniversalClient) (bool, error) {
		n, err := releaseScript.Run(ctx, c, []string{key}, tok).Int()
		return n == 1, err
	})
}

// ErrValidityExhausted is wrapped into ErrNotAcquired when a majority granted the lock but acquiring took so long
// that no validity was left.
var ErrValidityExhausted = errors.New("lock: acquisition ate the validity")

func (l *redlockLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	lease, err := l.acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	return lease, nil
}

// acquire is Acquire with the concrete lease, for the strategies built on Redlock (fenced).
func (l *redlockLocker) acquire(ctx context.Context, key string) (*redlockLease, error) {
	tok := token(l.opt)
	var lease *redlockLease
	sawErr := false
	err := retry(ctx, l.opt, func() (bool, error) {
		start := l.opt.Now()
		yes, errs := l.fanOut(ctx, func(ctx context.Context, c redis.UniversalClient) (bool, error) {
			return c.SetNX(ctx, key, tok, l.opt.TTL).Result()
		})
		if errs > 0 {
			sawErr = true
		}
		if yes >= l.quorum() {
			if err := l.opt.step(ctx, StepAfterReplies); err != nil {
				return false, err
			}
		}
		validity := l.opt.TTL - l.opt.Now().Sub(start) - l.drift()
		if l.mut == mutValidityIgnoresElapsed { // the bug: the time acquisition took is not taken off
			validity, start = l.opt.TTL-l.drift(), l.opt.Now()
		}
		if yes >= l.quorum() && validity > 0 {
			lease = &redlockLease{l: l, key: key, token: tok, until: start.Add(l.opt.TTL - l.drift())}
			return true, nil
		}
		if l.mut != mutPartialLocksKept { // the bug: a failed attempt's locks stay until they expire
			l.releaseAll(key, tok)
		}
		return false, nil
	})
	if err != nil {
		if errors.Is(err, ErrNotAcquired) && sawErr {
			// Some node's answer was lost: after releasing everywhere nothing should remain, but a SET that landed
			// after the release may linger until it expires. Report it as indeterminate, as it is.
			return nil, indeterminate("redlock acquire", errors.New("a node did not answer"))
		}
		return nil, err
	}
	return lease, nil
}

type redlockLease struct {
	l          *redlockLocker
	key, token string
	until      time.Time
}

func (s *redlockLease) Fence() int64          { return 0 }
func (s *redlockLease) ValidUntil() time.Time { return s.until }

func (s *redlockLease) Extend(ctx context.Context) error {
	start := s.l.opt.Now()
	yes, errs := s.l.fanOut(ctx, func(ctx context.Context, c redis.UniversalClient) (bool, error) {
		n, err := extendScript.Run(ctx, c, []string{s.key}, s.token, s.l.opt.TTL.Milliseconds()).Int()
		return n == 1, err
	})
	validity := s.l.opt.TTL - s.l.opt.Now().Sub(start) - s.l.drift()
	if yes >= s.l.quorum() && validity > 0 {
		s.until = start.Add(s.l.opt.TTL - s.l.drift())
		return nil
	}
	if yes+errs < s.l.quorum() {
		return ErrLockLost // a majority definitely no longer holds our token
	}
	return indeterminate("redlock extend", errors.New("no majority renewed in time"))
}

func (s *redlockLease) Release(ctx context.Context) error {
	yes, errs := s.l.fanOut(ctx, func(ctx context.Context, c redis.UniversalClient) (bool, error) {
		n, err := releaseScript.Run(ctx, c, []string{s.key}, s.token).Int()
		return n == 1, err
	})
	if yes == 0 && errs == 0 {
		return ErrLockLost
	}
	if errs > 0 && yes < s.l.quorum() {
		return indeterminate("redlock release", errors.New("some nodes did not answer"))
	}
	return nil
}

func init() {
	Register(Info{
		Name: "redlock", Summary: "parallel SET NX PX on 5 nodes with per-node timeout; majority and validity = ttl − elapsed − drift; release everywhere on failure",
		Origin: "[C]", Weakness: "a restart without persistence, a clock jump or a long pause", Make: func() Strategy { return Redlock{} },
	})
}
