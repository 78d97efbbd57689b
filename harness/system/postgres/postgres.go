// Package postgres is the PostgreSQL system: postgres servers run as local processes, reached by pgx connections,
// a handle per server and worker (pglock.Node), and locked by the strategies of package pglock (session and
// transaction advisory locks, a row locked FOR UPDATE, a lock row with an expiry, fenced or not). Every strategy
// locks on n1, as Redis's single-node locks do; the other servers run so that scenarios naming n2…n5 run unchanged.
//
// The servers take the faults a local process can: pause (SIGSTOP of the postmaster and every backend), crash
// and restart (SIGKILL, then a restart on the same port and data directory), and every network fault, since the
// workers reach them through the harness's links. Clock faults and failover are refused before any server starts
// (see Local.Lacks).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/lock/pglock"
)

func init() { system.Register(System{}) }

// System is the PostgreSQL system.
type System struct{}

var _ system.System = System{}

// Name implements system.System.
func (System) Name() string { return pglock.SystemName }

// Summary implements system.System.
func (System) Summary() string {
	return "postgres servers (PostgreSQL 15), each with its own data directory; pgx connections; strategies lock on n1"
}

// Backends implements system.System. Only local processes so far: a docker backend needs an image built from the
// host's server binaries and their libraries, which is not written yet.
func (System) Backends() []string { return []string{"local"} }

// NewBackend implements system.System.
func (System) NewBackend(name string) (cluster.Backend, error) {
	switch name {
	case "", "local":
		return &Local{}, nil
	case "docker":
		return nil, errors.New("the postgres system's docker backend is not built yet (its servers run as local processes only): use --backend local")
	}
	return nil, fmt.Errorf("the postgres system has no backend %q (known: local)", name)
}

// Takes implements system.System: a PostgreSQL strategy implements pglock.Strategy.
func (System) Takes(st lock.Strategy) bool {
	_, ok := st.(pglock.Strategy)
	return ok
}

// Connect implements system.System: one pglock.Node per server, dialling through cfg.Dial (so that a stalled
// worker's connections freeze), named after the worker (application_name), each connection's start-up bounded
// like the Redis clients' dials. Nothing is dialled until Ping or the first lock.
func (System) Connect(cfg system.ConnectConfig) (system.Clients, error) {
	var auth cluster.ClientOptions
	if co, ok := cfg.Backend.(cluster.ClientOptioner); ok {
		auth = co.ClientOptions()
	}
	cs := make(Clients, 0, len(cfg.Addrs))
	for _, a := range cfg.Addrs {
		n, err := pglock.NewNode(pglock.NodeConfig{
			Addr: a, Dial: cfg.Dial, Name: cfg.Name, ConnectTimeout: max(cfg.TTL, time.Second),
			User: auth.Username, Password: auth.Password,
		})
		if err != nil {
			_ = cs.Close()
			return nil, err
		}
		cs = append(cs, n)
	}
	return cs, nil
}

// Clients is one worker's handles to the servers, in node order: what a pglock.Strategy is made from.
type Clients []*pglock.Node

// Locker implements system.Clients.
func (cs Clients) Locker(st lock.Strategy, opt lock.Options) (lock.Locker, error) {
	ps, ok := st.(pglock.Strategy)
	if !ok {
		return nil, fmt.Errorf("strategy %q is not a PostgreSQL strategy (pglock.Strategy)", st.Name())
	}
	return ps.New(cs, opt), nil
}

// Ping implements system.Clients: SELECT 1 on n1, the server every strategy of the system locks on, which opens
// the connection its first acquire uses. The other servers run so that scenarios naming them run unchanged, and
// nothing talks to them: a connection to each from every worker would cost each server a backend process per
// worker for nothing, and the hundred of them forked at once were seen to outlast the connect timeout on a busy
// machine.
func (cs Clients) Ping(ctx context.Context) error {
	return system.PingAll(ctx, min(len(cs), 1), func(ctx context.Context, i int) error { return cs[i].Ping(ctx) })
}

// Close implements system.Clients: every socket of every handle is closed at once.
func (cs Clients) Close() error {
	for _, n := range cs {
		_ = n.Close()
	}
	return nil
}
