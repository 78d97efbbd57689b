package pglock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/lock"
)

// UniqueRow is the lock row with an expiry that applications write when they want a lease from their database:
// a row per held key in the table locks(key, owner, expires_at), whose primary key makes the insert the lock.
// Acquire is INSERT … ON CONFLICT DO NOTHING with expires_at = now() + TTL on the server's clock; a row found
// there is taken over only when stale, by UPDATE … WHERE key = $1 AND expires_at < now(). Release deletes the row
// where key and owner match, and Extend moves expires_at where they match (no row: the lock was lost). The
// holder's belief is the start of its request + TTL on its own clock, which is never later than the server's
// expiry (the server's now() is read after the request left).
//
// Unlike the session locks, the row outlives its connection and the server's restarts (it is committed data):
// what breaks it is time, a holder that pauses past its TTL between its check and its write, or a server clock
// that jumps. With Fenced, the row also carries a fencing token drawn from the sequence lock_fence at each
// acquisition (nextval is never handed out twice and grows with every call), so that the protected resource can
// refuse the writes of a holder whose row was taken over. Both the row and the sequence are only as durable as the
// server's commits: with synchronous_commit off, a crash loses the last commits, and with them a row and the
// sequence's advance, so a token can be handed out twice (see harness/system/postgres.Local).
type UniqueRow struct {
	// Fenced draws a fencing token from lock_fence at each acquisition and writes it into the row.
	Fenced bool
}

// Name implements lock.Strategy.
func (u UniqueRow) Name() string {
	if u.Fenced {
		return "pg-unique-row-fenced"
	}
	return "pg-unique-row"
}

// Steps implements lock.Stepper.
func (UniqueRow) Steps() []string { return []string{lock.StepAfterReplies} }

// New implements Strategy; it uses nodes[0] only.
func (u UniqueRow) New(nodes []*Node, opt lock.Options) lock.Locker {
	fence := "NULL::bigint"
	if u.Fenced {
		fence = "nextval('lock_fence')"
	}
	return &rowLocker{n: nodes[0], opt: opt.WithDefaults(), fence: fence}
}

// The lock table and the fencing sequence, created on first use.
var rowDDL = []string{
	"CREATE TABLE IF NOT EXISTS locks (key text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL, fence bigint)",
	"CREATE SEQUENCE IF NOT EXISTS lock_fence",
}

type rowLocker struct {
	n     *Node
	opt   lock.Options
	fence string // the SQL expression of a new row's token
}

// Acquire tries the insert, then the takeover of a stale row, until one of them writes the row (retries as the
// options say). Each statement commits on its own, so an error is indeterminate: the row may be written.
func (l *rowLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	owner := lock.Token(l.opt)
	var start time.Time
	var fence int64
	err := lock.Retry(ctx, l.opt, func() (ok bool, err error) {
		err = withConn(ctx, l.n, func(c *pgx.Conn) error {
			if err := ensureSchema(ctx, l.n, c, "locks", rowDDL...); err != nil {
				return err
			}
			start = l.opt.Now()
			if ok, fence, err = l.write(ctx, c, l.insertSQL(), key, owner); err != nil || ok {
				return err
			}
			start = l.opt.Now()
			ok, fence, err = l.write(ctx, c, l.takeOverSQL(), key, owner)
			return err
		})
		if err != nil {
			return false, indeterminate("acquire", err)
		}
		if ok {
			return true, l.opt.At(ctx, lock.StepAfterReplies)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return &rowLease{l: l, key: key, owner: owner, fence: fence, until: start.Add(l.opt.TTL)}, nil
}

// ttlSQL is the row's expiry on the server's clock, from the TTL in milliseconds ($3).
const ttlSQL = "now() + $3::bigint * interval '1 millisecond'"

func (l *rowLocker) insertSQL() string {
	return fmt.Sprintf(`INSERT INTO locks (key, owner, expires_at, fence) VALUES ($1, $2, %s, %s)
		ON CONFLICT (key) DO NOTHING RETURNING coalesce(fence, 0)`, ttlSQL, l.fence)
}

func (l *rowLocker) takeOverSQL() string {
	return fmt.Sprintf(`UPDATE locks SET owner = $2, expires_at = %s, fence = %s
		WHERE key = $1 AND expires_at < now() RETURNING coalesce(fence, 0)`, ttlSQL, l.fence)
}

// write runs an insert or a takeover; no row returned means the lock row is someone else's, live.
func (l *rowLocker) write(ctx context.Context, c *pgx.Conn, sql, key, owner string) (bool, int64, error) {
	var fence int64
	err := c.QueryRow(ctx, sql, key, owner, l.opt.TTL.Milliseconds()).Scan(&fence)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, nil
	}
	return err == nil, fence, err
}

// rowLease is a lock row as its holder sees it.
type rowLease struct {
	l          *rowLocker
	key, owner string
	fence      int64
	until      time.Time
}

// Fence implements lock.Lease: the token written into the row (0 without Fenced).
func (s *rowLease) Fence() int64 { return s.fence }

// ValidUntil implements lock.Lease: the start of the request that wrote or last extended the row, + TTL.
func (s *rowLease) ValidUntil() time.Time { return s.until }

// Extend implements lock.Lease: it moves the row's expiry to now() + TTL where key and owner still match.
func (s *rowLease) Extend(ctx context.Context) error {
	start := s.l.opt.Now()
	n, err := s.exec(ctx, "UPDATE locks SET expires_at = "+ttlSQL+" WHERE key = $1 AND owner = $2",
		s.key, s.owner, s.l.opt.TTL.Milliseconds())
	if err != nil {
		return indeterminate("extend", err)
	}
	if n == 0 {
		return lock.ErrLockLost
	}
	s.until = start.Add(s.l.opt.TTL)
	return nil
}

// Release implements lock.Lease: it deletes the row where key and owner still match.
func (s *rowLease) Release(ctx context.Context) error {
	n, err := s.exec(ctx, "DELETE FROM locks WHERE key = $1 AND owner = $2", s.key, s.owner)
	if err != nil {
		return indeterminate("release", err)
	}
	if n == 0 {
		return lock.ErrLockLost
	}
	return nil
}

// exec runs one statement on a connection of the node and returns the rows it touched.
func (s *rowLease) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := withConn(ctx, s.l.n, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func init() {
	lock.Register(lock.Info{
		Name: "pg-unique-row", System: SystemName,
		Summary:  "INSERT … ON CONFLICT DO NOTHING of a lock row with expires_at = now() + ttl; stale rows taken over by a conditional UPDATE; DELETE by owner releases",
		Origin:   "the lease-row pattern: a lock table with an owner and an expiry, kept in the application's own database",
		Weakness: "expiry by time: a holder that pauses past its TTL after its check writes after the next holder got the row; a crash that loses the last commits (persistence none) forgets a fresh row",
		Make:     func() lock.Strategy { return UniqueRow{} },
	})
	lock.Register(lock.Info{
		Name: "pg-unique-row-fenced", System: SystemName,
		Summary:  "pg-unique-row whose row carries a fencing token from the sequence lock_fence (nextval at each acquisition)",
		Origin:   "the lease-row pattern with Kleppmann's fencing tokens",
		Weakness: "a crash that loses the last commits (persistence none) rewinds the sequence with the row, handing a token out twice",
		Fenced:   true,
		Make:     func() lock.Strategy { return UniqueRow{Fenced: true} },
	})
}
