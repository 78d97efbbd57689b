package lock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedlockNaive is article [B]'s "simplified Redlock" as written. It sends SET NX PX with one token to each node in
// turn, with no per-node timeout (only the caller's context bounds a slow node), skips a node that answers with
// an error, and counts a majority. It computes no validity and allows no drift: the holder believes its lock good
// for a full TTL from the moment acquisition finished, however long that took, while the keys on the first nodes
// have been counting down since they were set. A failed attempt leaves its partial locks where it got them (and,
// the token being the same, they also refuse this client's own retries until they expire). Its release loops over
// the nodes but calls the single-node release on the default client (nodes[0]) every time, so only nodes[0] is
// freed; the others stay locked until they expire. Extend is the article's manual renewal, on nodes[0] only.
type RedlockNaive struct{}

// Name implements Strategy.
func (RedlockNaive) Name() string { return "redlock-naive" }

// Steps implements Stepper.
func (RedlockNaive) Steps() []string { return []string{StepAfterReplies} }

// New implements Strategy.
func (RedlockNaive) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &redlockNaiveLocker{nodes: nodes, opt: opt.WithDefaults()}
}

type redlockNaiveLocker struct {
	nodes []redis.UniversalClient
	opt   Options
}

func (l *redlockNaiveLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	tok := token(l.opt)
	quorum := len(l.nodes)/2 + 1
	var until time.Time
	var lastErr error
	err := retry(ctx, l.opt, func() (bool, error) {
		locked := 0
		lastErr = nil
		for _, c := range l.nodes {
			ok, err := c.SetNX(ctx, key, tok, l.opt.TTL).Result()
			if err != nil {
				lastErr = err
				continue
			}
			if ok {
				locked++
			}
		}
		if locked >= quorum {
			if err := l.opt.step(ctx, StepAfterReplies); err != nil {
				return false, err
			}
			until = l.opt.Now().Add(l.opt.TTL)
			return true, nil
		}
		return false, nil // the partial locks stay where they are
	})
	if err != nil {
		if errors.Is(err, ErrNotAcquired) && lastErr != nil {
			// A node's answer was lost in the last attempt: its SET may have landed.
			return nil, indeterminate("redlock-naive acquire", fmt.Errorf("no majority; a node failed: %w", lastErr))
		}
		return nil, err
	}
	return &redlockNaiveLease{l: l, key: key, token: tok, until: until}, nil
}

// redlockNaiveLease believes its lock lasts a full TTL from the end of the acquisition, or from the start of its
// last successful renewal on nodes[0].
type redlockNaiveLease struct {
	l          *redlockNaiveLocker
	key, token string
	until      time.Time
}

func (s *redlockNaiveLease) Fence() int64          { return 0 }
func (s *redlockNaiveLease) ValidUntil() time.Time { return s.until }

// Extend is the article's manual renewal: compare-and-PEXPIRE on the default client, nodes[0], only.
func (s *redlockNaiveLease) Extend(ctx context.Context) error {
	start := s.l.opt.Now()
	n, err := extendScript.Run(ctx, s.l.nodes[0], []string{s.key}, s.token, s.l.opt.TTL.Milliseconds()).Int()
	if err != nil {
		return indeterminate("extend", err)
	}
	if n == 0 {
		return ErrLockLost
	}
	s.until = start.Add(s.l.opt.TTL)
	return nil
}

// Release is the article's loop: once per node, the single-node compare-and-delete, always on nodes[0]. It succeeds
// when one of those calls deleted the lock there; the other nodes are never touched.
func (s *redlockNaiveLease) Release(ctx context.Context) error {
	deleted := false
	var lastErr error
	for range s.l.nodes {
		n, err := releaseScript.Run(ctx, s.l.nodes[0], []string{s.key}, s.token).Int()
		if err != nil {
			lastErr = err
			continue
		}
		if n == 1 {
			deleted = true
		}
	}
	switch {
	case deleted:
		return nil
	case lastErr != nil:
		return indeterminate("release", lastErr)
	default:
		return ErrLockLost
	}
}

func init() {
	Register(Info{
		Name:     "redlock-naive",
		Summary:  "sequential SET NX PX on each node, errors skipped, majority counted; no per-node timeout, validity or drift; release frees nodes[0] only",
		Origin:   "[B]",
		Weakness: "a slow acquisition still believes in a full TTL; partial locks and all but nodes[0] stay locked until they expire",
		Make:     func() Strategy { return RedlockNaive{} },
	})
}
