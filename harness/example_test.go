package harness_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// myLock is a lock written outside the project: a single-node lock with a random token, released and renewed
// only by its owner. It uses nothing of the project but the lock interfaces.
type myLock struct{}

func (myLock) Name() string { return "my-lock" }

func (myLock) New(nodes []redis.UniversalClient, opt lock.Options) lock.Locker {
	return &myLocker{c: nodes[0], opt: opt}
}

type myLocker struct {
	c   redis.UniversalClient
	opt lock.Options
}

var (
	release = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`)
	renew   = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`)
)

func (l *myLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	for {
		start := time.Now()
		ok, err := l.c.SetNX(ctx, key, token, l.opt.TTL).Result()
		if err != nil {
			return nil, err
		}
		if ok {
			return &myLease{l: l, key: key, token: token, until: start.Add(l.opt.TTL)}, nil
		}
		select {
		case <-ctx.Done():
			return nil, lock.ErrNotAcquired
		case <-time.After(l.opt.RetryDelay):
		}
	}
}

type myLease struct {
	l          *myLocker
	key, token string
	until      time.Time
}

func (m *myLease) Fence() int64          { return 0 }
func (m *myLease) ValidUntil() time.Time { return m.until }

func (m *myLease) Extend(ctx context.Context) error {
	start := time.Now()
	n, err := renew.Run(ctx, m.l.c, []string{m.key}, m.token, m.l.opt.TTL.Milliseconds()).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return lock.ErrLockLost
	}
	m.until = start.Add(m.l.opt.TTL)
	return nil
}

func (m *myLease) Release(ctx context.Context) error {
	n, err := release.Run(ctx, m.l.c, []string{m.key}, m.token).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return lock.ErrLockLost
	}
	return nil
}

func TestAStrategyWrittenOutsideTheProjectRunsThroughThePublicAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	res, err := harness.Run(context.Background(), harness.Config{
		Scenario: scenarios.MustLoad("baseline"),
		Strategy: myLock{},
		Seed:     7,
		Duration: 3 * time.Second,
		OutDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != checker.Valid {
		t.Fatal(res.Summary())
	}
}

// Example shows how a library author tests their own lock against a fault scenario from `go test`.
func Example() {
	res, err := harness.Run(context.Background(), harness.Config{
		Scenario: scenarios.MustLoad("partition"),
		Strategy: myLock{},
		Seed:     7,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Println("harness could not run:", err)
		return
	}
	fmt.Println(res.Summary())
}
