package pglock

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/redlock-harness/redlock-harness/lock"
)

// Strategy is a strategy of the PostgreSQL system. The harness calls New once per worker with that worker's own
// handles, one per server in node order, each reaching its server through the worker's network links. Every
// strategy here locks on nodes[0] only, as Redis's single-node locks do; the other servers run so that scenarios
// naming n2…n5 run unchanged.
type Strategy interface {
	lock.Strategy
	// New returns a Locker that talks to nodes.
	New(nodes []*Node, opt lock.Options) lock.Locker
}

// SystemName is the name of the PostgreSQL system, as the strategies' registry entries write it.
const SystemName = "postgres"

// SessionBelief is how far ahead a holder whose lock lives with its connection (a session or transaction lock)
// puts its lease's end while nothing has gone wrong on that connection. Such a lock has no expiry: its holder
// believes in it for as long as its connection seems alive, and learns otherwise only at its next round trip. A
// day stands for "no end the protocol states", finite so that reports can print it.
const SessionBelief = 24 * time.Hour

// indeterminate wraps a command error: the command may or may not have taken effect.
func indeterminate(op string, err error) error {
	return fmt.Errorf("pglock: %s: outcome unknown: %w", op, err)
}

// KeyID is the advisory-lock number of a lock key: FNV-1a of the key, so that every client maps a key to the same
// 64-bit lock without asking the server.
func KeyID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64())
}

// isCode reports whether err is a server error with SQLSTATE code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// SQLSTATE codes the strategies tell apart.
const (
	codeLockNotAvailable = "55P03" // NOWAIT found the row locked
	codeUniqueViolation  = "23505" // two sessions creating the same table at once
	codeDuplicateTable   = "42P07"
	codeDuplicateObject  = "42710"
)

// ensureSchema runs stmts (CREATE … IF NOT EXISTS) once per node and name. Two workers creating the same table
// at once make one of them fail with a duplicate error even under IF NOT EXISTS: the statements are then run
// again, and find the table there.
func ensureSchema(ctx context.Context, n *Node, c *pgx.Conn, name string, stmts ...string) error {
	n.mu.Lock()
	done := n.schemas[name]
	n.mu.Unlock()
	if done {
		return nil
	}
	var err error
	for range 3 {
		if err = execAll(ctx, c, stmts); err == nil {
			n.mu.Lock()
			n.schemas[name] = true
			n.mu.Unlock()
			return nil
		}
		if !isCode(err, codeUniqueViolation) && !isCode(err, codeDuplicateTable) && !isCode(err, codeDuplicateObject) {
			break
		}
	}
	return fmt.Errorf("create %s: %w", name, err)
}

func execAll(ctx context.Context, c *pgx.Conn, stmts []string) error {
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// withConn runs f on a connection of n, gives it back when f succeeds and discards it when f fails: after an
// error the connection's state is unknown (pgx has already closed it when the context ran out).
func withConn(ctx context.Context, n *Node, f func(c *pgx.Conn) error) error {
	c, err := n.Conn(ctx)
	if err != nil {
		return err
	}
	if err := f(c); err != nil {
		Discard(c)
		return err
	}
	n.Put(c)
	return nil
}

// queryBool runs a one-row, one-column boolean query.
func queryBool(ctx context.Context, c *pgx.Conn, sql string, args ...any) (bool, error) {
	var b bool
	err := c.QueryRow(ctx, sql, args...).Scan(&b)
	return b, err
}
