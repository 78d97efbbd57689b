// Package lock defines what a lock strategy is, so that the harness can drive any of them the same way, and holds
// the catalogue of strategies under test: from the naive SETNX/DEL lock to Redlock with fencing tokens. Each
// strategy reproduces its source's behaviour, weaknesses included: the point is to measure them.
package lock

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Strategy is a lock under test. It is a strategy of one system (Info.System: "redis" unless it says otherwise),
// and makes its Lockers from that system's clients through the system's own interface, so that each strategy gets
// typed clients: RedisStrategy for Redis, one go-redis client per node. The harness finds the system of a
// strategy that is not registered by asking each system whether it takes the strategy (system.For).
type Strategy interface {
	// Name is the registry name, e.g. "redlock".
	Name() string
}

// RedisStrategy is a strategy of the Redis system. The harness calls New once per worker with that worker's own
// clients, one per node, each reaching its node through the worker's network links (and so through its faults).
type RedisStrategy interface {
	Strategy
	// New returns a Locker that talks to nodes. Single-node strategies use nodes[0].
	New(nodes []redis.UniversalClient, opt Options) Locker
}

// SystemRedis is the name of the Redis system, the system of every strategy whose Info does not name one.
const SystemRedis = "redis"

// Locker acquires a lock on a key.
type Locker interface {
	// Acquire returns a Lease, ErrNotAcquired when the lock is definitely held by someone else (or the strategy
	// gave up after its retries without any indeterminate step), or another error when the outcome is unknown.
	Acquire(ctx context.Context, key string) (Lease, error)
}

// Lease is a held lock as its holder sees it.
type Lease interface {
	// Fence is the fencing token granted with the lease, 0 when the strategy has none.
	Fence() int64
	// ValidUntil is the holder's own belief, on its local clock, of when the lease runs out. A careful client
	// refuses to write after it.
	ValidUntil() time.Time
	// Extend renews the lease for another TTL. ErrLockLost means it is definitely gone.
	Extend(ctx context.Context) error
	// Release gives the lock up. ErrLockLost means it was already gone (expired or taken).
	Release(ctx context.Context) error
}

// Sentinel errors. Any other error from a Locker or Lease is indeterminate: the command may or may not have taken
// effect on the servers, and the history records it as info.
var (
	// ErrNotAcquired: the lock is held by someone else; nothing was changed.
	ErrNotAcquired = errors.New("lock: not acquired")
	// ErrLockLost: Extend or Release found the lock gone or owned by someone else.
	ErrLockLost = errors.New("lock: lock lost")
)

// IsDefinite reports whether err says for certain that the operation had no effect.
func IsDefinite(err error) bool {
	return errors.Is(err, ErrNotAcquired) || errors.Is(err, ErrLockLost)
}

// LossNotifier is implemented by leases that tell their holder when the lock is lost (a watchdog whose renewal
// failed, or whose validity passed). The worker abandons its critical section when Lost is closed.
type LossNotifier interface {
	Lost() <-chan struct{}
}

// SelfRenewing is implemented by leases that renew themselves in the background (a watchdog). The worker does
// not call Extend on them.
type SelfRenewing interface {
	SelfRenewing() bool
}
