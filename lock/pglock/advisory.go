package pglock

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/lock"
)

// Advisory is PostgreSQL's session-level advisory lock as applications take it: one connection is set aside for
// the lock's whole life, pg_try_advisory_lock(id) is tried on it until it answers true (false: held by another
// session, a definite refusal), and pg_advisory_unlock(id) on the same connection releases it before the
// connection goes back. The lock has no expiry: the server releases it when the session ends, and only then.
//
// That is its weakness: the session can end on the server's side (a server restart, a connection the server or
// the network closes) while the holder's side of the connection looks alive, and the holder learns of it only at
// its next round trip. Meanwhile another client takes the lock. Its merit is the other side of the same coin: a
// holder that stalls keeps its lock, because nothing expires while its connection stays open.
type Advisory struct{}

// Name implements lock.Strategy.
func (Advisory) Name() string { return "pg-advisory" }

// Steps implements lock.Stepper.
func (Advisory) Steps() []string { return []string{lock.StepAfterReplies} }

// New implements Strategy; it uses nodes[0] only.
func (Advisory) New(nodes []*Node, opt lock.Options) lock.Locker {
	return &advisoryLocker{n: nodes[0], opt: opt.WithDefaults()}
}

// AdvisoryXact is the transaction-level advisory lock: a transaction is opened on a connection kept for the
// critical section, pg_try_advisory_xact_lock(id) is tried inside it until it answers true, and COMMIT releases
// it. It is the session lock's twin, bound to a transaction instead of a session, and it dies the same way: with
// the connection or the server, while the holder still believes.
type AdvisoryXact struct{}

// Name implements lock.Strategy.
func (AdvisoryXact) Name() string { return "pg-advisory-xact" }

// Steps implements lock.Stepper.
func (AdvisoryXact) Steps() []string { return []string{lock.StepAfterReplies} }

// New implements Strategy; it uses nodes[0] only.
func (AdvisoryXact) New(nodes []*Node, opt lock.Options) lock.Locker {
	return &advisoryLocker{n: nodes[0], opt: opt.WithDefaults(), xact: true}
}

type advisoryLocker struct {
	n    *Node
	opt  lock.Options
	xact bool // transaction-level: BEGIN first, COMMIT to release
}

// Acquire takes a connection of its own, opens a transaction on it for the transaction-level lock, and tries
// the lock until it is granted, the retries run out (the connection goes back: not acquired) or a command fails
// (the connection is discarded, which releases whatever the session may hold: indeterminate).
func (l *advisoryLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	c, err := l.n.Conn(ctx)
	if err != nil {
		return nil, indeterminate("connect", err)
	}
	try := "SELECT pg_try_advisory_lock($1)"
	if l.xact {
		try = "SELECT pg_try_advisory_xact_lock($1)"
		if _, err := c.Exec(ctx, "BEGIN"); err != nil {
			Discard(c)
			return nil, indeterminate("BEGIN", err)
		}
	}
	id := KeyID(key)
	var start time.Time
	crashed := false
	err = lock.Retry(ctx, l.opt, func() (bool, error) {
		start = l.opt.Now()
		ok, err := queryBool(ctx, c, try, id)
		if err != nil {
			return false, indeterminate(try, err)
		}
		if ok {
			err = l.opt.At(ctx, lock.StepAfterReplies)
			crashed = err != nil
		}
		return ok, err
	})
	switch {
	case crashed:
		return nil, err // a dead client cleans nothing up: its connection stays open until its node is closed
	case errors.Is(err, lock.ErrNotAcquired):
		l.giveBack(ctx, c)
		return nil, err
	case err != nil:
		Discard(c)
		return nil, err
	}
	if l.xact {
		return newHeldLease(l.n, c, l.opt, start, holdsAdvisory(id, true), commit), nil
	}
	return newHeldLease(l.n, c, l.opt, start, holdsAdvisory(id, false), unlockAdvisory(id)), nil
}

// giveBack returns the connection of an acquisition that found the lock held, ending its transaction first.
func (l *advisoryLocker) giveBack(ctx context.Context, c *pgx.Conn) {
	if l.xact {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opt.TTL)
		defer cancel()
		rollback(rctx, l.n, c)
		return
	}
	l.n.Put(c)
}

// unlockAdvisory is the session lock's release: pg_advisory_unlock answers false (and the server warns) when the
// session held no such lock.
func unlockAdvisory(id int64) func(context.Context, *pgx.Conn) (bool, error) {
	return func(ctx context.Context, c *pgx.Conn) (bool, error) {
		return queryBool(ctx, c, "SELECT pg_advisory_unlock($1)", id)
	}
}

func init() {
	lock.Register(lock.Info{
		Name: "pg-advisory", System: SystemName,
		Summary:  "pg_try_advisory_lock on a connection held for the lock's life; pg_advisory_unlock on it to release",
		Origin:   "PostgreSQL manual, 13.3.5 Advisory Locks (session level)",
		Weakness: "the lock lives with the session: a server restart or a connection the server loses releases it at once while the holder, which learns only at its next round trip, still believes",
		Make:     func() lock.Strategy { return Advisory{} },
	})
	lock.Register(lock.Info{
		Name: "pg-advisory-xact", System: SystemName,
		Summary:  "pg_try_advisory_xact_lock inside a transaction held open for the critical section; COMMIT releases",
		Origin:   "PostgreSQL manual, 13.3.5 Advisory Locks (transaction level)",
		Weakness: "as pg-advisory: the transaction dies with its connection or the server while the holder still believes",
		Make:     func() lock.Strategy { return AdvisoryXact{} },
	})
}
