package lock

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// FenceKeyPrefix is prepended to a lock's key to name the counter its fencing tokens are drawn from.
const FenceKeyPrefix = "fence:"

// setIfGreaterScript raises the fence counter to ARGV[1] unless it is already at least that high.
var setIfGreaterScript = redis.NewScript(`local c = tonumber(redis.call("GET", KEYS[1]) or "0")
if c < tonumber(ARGV[1]) then redis.call("SET", KEYS[1], ARGV[1]) end
return 1`)

// Fenced is redlock plus a fencing token obtained once the lock is granted, so that the protected resource can
// reject the writes of a holder whose lock silently ran out (a pause, a clock jump): the token of every later
// holder is higher. The token comes from a counter kept on the nodes under FenceKeyPrefix+key, in two rounds.
// Round 1 INCRs it on every node in parallel (each under the per-node timeout) and needs a majority of answers;
// the token is the highest answer. Round 2 writes the token back to every node with "set if greater" and needs a
// majority of acknowledgements. A plain "INCR a majority, take the max" would not be monotonic: with counters
// a=10, b=5, c=5, a client reaching a and b gets 11, and a later one reaching b and c gets 7. After round 2 a
// majority holds at least the token, and any later majority intersects it, so any later round 1 answers more.
// If either round fails, the lock is released everywhere and the acquisition is indeterminate. The counter is
// only as durable as the nodes: a node restarted without persistence forgets it, as it forgets the lock.
type Fenced struct {
	mut mutation // a planted bug (see Mutants); zero is the lock as written
}

// Name implements Strategy.
func (Fenced) Name() string { return "fenced" }

// New implements Strategy.
func (m Fenced) New(nodes []redis.UniversalClient, opt Options) Locker {
	return &fencedLocker{rl: *newRedlockLocker(nodes, opt, 0), mut: m.mut}
}

// Steps implements Stepper.
func (Fenced) Steps() []string { return []string{StepAfterReplies, StepBetweenFenceRounds} }

type fencedLocker struct {
	rl  redlockLocker
	mut mutation
}

func (l *fencedLocker) Acquire(ctx context.Context, key string) (Lease, error) {
	lease, err := l.rl.acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	fence, err := l.fence(ctx, lease)
	if err != nil {
		return nil, err
	}
	return &fencedLease{redlockLease: lease, fence: fence}, nil
}

// fence runs the two rounds and returns the token. A failed round releases the lock; a Step error (a crashed
// client) leaves everything as it is.
func (l *fencedLocker) fence(ctx context.Context, lease *redlockLease) (int64, error) {
	fk := FenceKeyPrefix + lease.key
	failed := func(err error) error {
		l.rl.releaseAll(lease.key, lease.token)
		return indeterminate("fenced acquire", err)
	}
	if l.mut == mutFenceOneNode { // the bug: one node's counter is the token; nothing else keeps it
		nctx, cancel := context.WithTimeout(ctx, l.rl.opt.NodeTimeout)
		defer cancel()
		v, err := l.rl.nodes[0].Incr(nctx, fk).Result()
		if err != nil {
			return 0, failed(fmt.Errorf("fence INCR on the first node: %w", err))
		}
		return v, nil
	}
	var mu sync.Mutex
	var token int64
	answers, errs := l.rl.fanOut(ctx, func(ctx context.Context, c redis.UniversalClient) (bool, error) {
		v, err := c.Incr(ctx, fk).Result()
		if err != nil {
			return false, err
		}
		mu.Lock()
		token = max(token, v)
		mu.Unlock()
		return true, nil
	})
	if answers < l.rl.quorum() {
		return 0, failed(fmt.Errorf("fence INCR answered by %d of %d nodes (%d errors)", answers, len(l.rl.nodes), errs))
	}
	if err := l.rl.opt.step(ctx, StepBetweenFenceRounds); err != nil {
		return 0, err
	}
	if l.mut == mutFenceNoWriteBack { // the bug: the highest answer is the token, and no majority is told of it
		return token, nil
	}
	acks, errs := l.rl.fanOut(ctx, func(ctx context.Context, c redis.UniversalClient) (bool, error) {
		n, err := setIfGreaterScript.Run(ctx, c, []string{fk}, token).Int()
		return n == 1, err
	})
	if acks < l.rl.quorum() {
		return 0, failed(fmt.Errorf("fence %d written back to %d of %d nodes (%d errors)", token, acks, len(l.rl.nodes), errs))
	}
	return token, nil
}

// fencedLease is a redlock lease that carries its fencing token; it extends and releases as redlock does.
type fencedLease struct {
	*redlockLease
	fence int64
}

// Fence returns the token drawn when the lock was granted.
func (s *fencedLease) Fence() int64 { return s.fence }

func init() {
	Register(Info{
		Name:     "fenced",
		Summary:  "redlock + a fencing token: INCR fence:key on a majority, take the max, write it back to a majority",
		Origin:   "[C] (Redlock) + Kleppmann's fencing tokens",
		Weakness: "keeps the resource safe only while the counter is; a node restarted without persistence forgets it",
		Fenced:   true,
		Make:     func() Strategy { return Fenced{} },
	})
}
