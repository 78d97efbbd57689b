package pglock

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/lock"
)

// heldLease is a lock that lives with one connection kept for the lease's life (a session's advisory lock, or a
// transaction's lock held until COMMIT): the server releases it when the session ends, whatever the holder
// thinks. The holder's belief is what it can know: the lock is its own for as long as its connection answers
// (SessionBelief past the last round trip that succeeded), and from the start of a round trip that failed it
// knows nothing any more (the connection is discarded, so the server ends the session as soon as it hears of it).
// What it cannot know is a session the server has already ended (a restart, a connection cut on the server's
// side) while its own side of the connection looks fine: that is the weakness these locks are measured for.
type heldLease struct {
	n     *Node
	c     *pgx.Conn
	now   func() time.Time
	until time.Time
	gone  bool // the connection was given back or discarded: nothing more can be said on it
	// released says Release succeeded: the lock is definitely no longer the holder's.
	released bool
	// prove is Extend's round trip: true when the server says the lock is still the session's.
	prove func(ctx context.Context, c *pgx.Conn) (bool, error)
	// end is Release's round trip: true when the server released a lock the session held.
	end func(ctx context.Context, c *pgx.Conn) (bool, error)
}

// errConnGone is the indeterminate outcome of an operation on a lease whose connection an earlier failure took.
var errConnGone = errors.New("the lease's connection failed earlier and was closed; the server ends its session when it hears of it")

func newHeldLease(n *Node, c *pgx.Conn, o lock.Options, start time.Time, prove, end func(context.Context, *pgx.Conn) (bool, error)) *heldLease {
	return &heldLease{n: n, c: c, now: o.Now, until: start.Add(SessionBelief), prove: prove, end: end}
}

// Fence implements lock.Lease: these locks have no token.
func (s *heldLease) Fence() int64 { return 0 }

// ValidUntil implements lock.Lease: SessionBelief past the last successful round trip, or the start of the round
// trip that failed.
func (s *heldLease) ValidUntil() time.Time { return s.until }

// fail records that a round trip started at start failed: the holder can no longer vouch for its lock.
func (s *heldLease) fail(start time.Time) {
	if start.Before(s.until) {
		s.until = start
	}
	s.gone = true
	Discard(s.c)
}

// Extend implements lock.Lease: a round trip on the lease's own connection proving that the session still holds
// the lock. It cannot lengthen anything on the server (the lock has no expiry); it only renews the holder's
// reason to believe. A server that answers that the session holds no such lock is a definite loss.
func (s *heldLease) Extend(ctx context.Context) error {
	if s.released {
		return lock.ErrLockLost
	}
	if s.gone {
		return indeterminate("extend", errConnGone)
	}
	start := s.now()
	ok, err := s.prove(ctx, s.c)
	switch {
	case err != nil:
		s.fail(start)
		return indeterminate("extend", err)
	case !ok:
		s.fail(start)
		return lock.ErrLockLost
	}
	s.until = start.Add(SessionBelief)
	return nil
}

// Release implements lock.Lease: the release round trip on the lease's connection, which then goes back to the
// node. A server that says the session held no such lock is ErrLockLost.
func (s *heldLease) Release(ctx context.Context) error {
	if s.released {
		return lock.ErrLockLost
	}
	if s.gone {
		return indeterminate("release", errConnGone)
	}
	start := s.now()
	ok, err := s.end(ctx, s.c)
	if err != nil {
		s.fail(start)
		return indeterminate("release", err)
	}
	s.gone, s.released = true, true
	s.n.Put(s.c)
	if !ok {
		return lock.ErrLockLost
	}
	return nil
}

// holdsAdvisory asks the server whether this session holds advisory lock id (session or transaction level),
// and, for a transaction lock (inTx), whether the transaction is still open.
func holdsAdvisory(id int64, inTx bool) func(context.Context, *pgx.Conn) (bool, error) {
	hi, lo := int64(uint64(id)>>32), int64(uint32(id))
	return func(ctx context.Context, c *pgx.Conn) (bool, error) {
		ok, err := queryBool(ctx, c, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND pid = pg_backend_pid() AND granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1)`, hi, lo)
		if err != nil || !inTx {
			return ok, err
		}
		return ok && c.PgConn().TxStatus() == 'T', nil
	}
}

// commit ends the lease's transaction, releasing every lock it took.
func commit(ctx context.Context, c *pgx.Conn) (bool, error) {
	_, err := c.Exec(ctx, "COMMIT")
	return err == nil, err
}

// rollback ends a transaction that did not get its lock, keeping the connection for the next try; it discards
// the connection when that fails.
func rollback(ctx context.Context, n *Node, c *pgx.Conn) {
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		Discard(c)
		return
	}
	n.Put(c)
}
