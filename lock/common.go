package lock

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts every token-checking strategy shares: the owner, and only the owner, may delete or renew its lock.
var (
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)
	extendScript  = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)
)

// token draws a random lock value from the options' source, so that runs replay from their seed.
func token(o Options) string { return Token(o) }

// Token draws a random lock value (32 hex digits) from the options' source, so that runs replay from their seed:
// every system's strategies draw their owner values with it.
func Token(o Options) string {
	b := make([]byte, 16)
	for i := 0; i < len(b); i += 8 {
		v := o.Rand.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b)
}

// retry is Retry, for this package's strategies.
func retry(ctx context.Context, o Options, try func() (bool, error)) error { return Retry(ctx, o, try) }

// Retry calls try until it succeeds, fails indeterminately, or the retries or ctx run out. try returns
// (true, nil) on success, (false, nil) when the lock is held by someone else, (_, err) when the outcome is unknown.
// Between tries it waits a jittered, exponentially backed-off delay (Options.Backoff). It returns ErrNotAcquired
// when every try found the lock held.
func Retry(ctx context.Context, o Options, try func() (bool, error)) error {
	for i := 0; ; i++ {
		ok, err := try()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if i >= o.Retries {
			return ErrNotAcquired
		}
		t := time.NewTimer(o.Backoff(i))
		select {
		case <-ctx.Done():
			t.Stop()
			return ErrNotAcquired
		case <-t.C:
		}
	}
}

// indeterminate wraps a command error: the command may or may not have taken effect.
func indeterminate(op string, err error) error {
	return fmt.Errorf("lock: %s: outcome unknown: %w", op, err)
}
