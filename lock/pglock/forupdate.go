package pglock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/lock"
)

// ForUpdate is the row lock of a lock table: one row per key in lock_rows (the table is created on first use, a
// key's row inserted the first time a worker locks it), locked with SELECT … FOR UPDATE NOWAIT inside a
// transaction held open for the critical section; NOWAIT's lock_not_available error (55P03) is a definite
// refusal, and COMMIT releases. Like the advisory locks, it lives with its transaction, so it dies with the
// connection or the server while the holder still believes; unlike them it needs a table, and it is the form
// most applications already use when they "lock a row".
type ForUpdate struct{}

// Name implements lock.Strategy.
func (ForUpdate) Name() string { return "pg-for-update" }

// Steps implements lock.Stepper.
func (ForUpdate) Steps() []string { return []string{lock.StepAfterReplies} }

// New implements Strategy; it uses nodes[0] only.
func (ForUpdate) New(nodes []*Node, opt lock.Options) lock.Locker {
	return &forUpdateLocker{n: nodes[0], opt: opt.WithDefaults(), rows: map[string]bool{}}
}

// lockRowsDDL creates the lock table of ForUpdate.
const lockRowsDDL = "CREATE TABLE IF NOT EXISTS lock_rows (key text PRIMARY KEY)"

type forUpdateLocker struct {
	n    *Node
	opt  lock.Options
	rows map[string]bool // keys whose row this worker has made sure exists
}

// Acquire makes sure the table and the key's row exist (each in its own autocommitted statement: a row inserted
// inside the locking transaction would make every other inserter wait for that transaction), then tries BEGIN and
// SELECT … FOR UPDATE NOWAIT until the row is locked. A refused try ends its transaction and waits the backoff.
func (l *forUpdateLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	c, err := l.n.Conn(ctx)
	if err != nil {
		return nil, indeterminate("connect", err)
	}
	if err := l.ensureRow(ctx, c, key); err != nil {
		Discard(c)
		return nil, indeterminate("lock row", err)
	}
	var start time.Time
	crashed := false
	err = lock.Retry(ctx, l.opt, func() (bool, error) {
		start = l.opt.Now()
		ok, err := l.try(ctx, c, key)
		if ok && err == nil {
			err = l.opt.At(ctx, lock.StepAfterReplies)
			crashed = err != nil
		}
		return ok, err
	})
	switch {
	case crashed:
		return nil, err // a dead client cleans nothing up: its connection stays open until its node is closed
	case errors.Is(err, lock.ErrNotAcquired):
		l.n.Put(c)
		return nil, err
	case err != nil:
		Discard(c)
		return nil, err
	}
	return newHeldLease(l.n, c, l.opt, start, l.holdsRow(key), commit), nil
}

// ensureRow creates the table once per node and the key's row once per worker.
func (l *forUpdateLocker) ensureRow(ctx context.Context, c *pgx.Conn, key string) error {
	if l.rows[key] {
		return nil
	}
	if err := ensureSchema(ctx, l.n, c, "lock_rows", lockRowsDDL); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "INSERT INTO lock_rows (key) VALUES ($1) ON CONFLICT DO NOTHING", key); err != nil {
		return err
	}
	l.rows[key] = true
	return nil
}

// try is one attempt: BEGIN, then lock the row without waiting. Refused, it rolls back and reports false.
func (l *forUpdateLocker) try(ctx context.Context, c *pgx.Conn, key string) (bool, error) {
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return false, indeterminate("BEGIN", err)
	}
	var k string
	err := c.QueryRow(ctx, "SELECT key FROM lock_rows WHERE key = $1 FOR UPDATE NOWAIT", key).Scan(&k)
	switch {
	case isCode(err, codeLockNotAvailable):
		if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
			return false, indeterminate("ROLLBACK", err)
		}
		return false, nil
	case errors.Is(err, pgx.ErrNoRows):
		return false, indeterminate("SELECT FOR UPDATE", fmt.Errorf("the lock row of %q is missing", key))
	case err != nil:
		return false, indeterminate("SELECT FOR UPDATE", err)
	}
	return true, nil
}

// holdsRow is the lease's proof of life: inside the still-open transaction, locking its own row again succeeds at
// once; a transaction that has ended (or a row another session holds) is a loss.
func (l *forUpdateLocker) holdsRow(key string) func(context.Context, *pgx.Conn) (bool, error) {
	return func(ctx context.Context, c *pgx.Conn) (bool, error) {
		if c.PgConn().TxStatus() != 'T' {
			return false, nil
		}
		var k string
		err := c.QueryRow(ctx, "SELECT key FROM lock_rows WHERE key = $1 FOR UPDATE NOWAIT", key).Scan(&k)
		if isCode(err, codeLockNotAvailable) || errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
}

func init() {
	lock.Register(lock.Info{
		Name: "pg-for-update", System: SystemName,
		Summary:  "a row per key in lock_rows, SELECT … FOR UPDATE NOWAIT in a transaction held for the critical section; COMMIT releases",
		Origin:   "PostgreSQL manual, 13.3.2 Row-Level Locks (FOR UPDATE NOWAIT)",
		Weakness: "the row lock lives with its transaction: a server restart or a lost connection releases it while the holder still believes",
		Make:     func() lock.Strategy { return ForUpdate{} },
	})
}
