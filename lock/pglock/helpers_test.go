package pglock_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system/postgres"
	"github.com/redlock-harness/redlock-harness/internal/testslot"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/lock/pglock"
)

// server is the one postgres server every test of the package locks against (each on keys of its own): starting
// one per test would cost a second of initdb each. Empty in -short mode.
var server string

// TestMain starts that server, outside the machine's test slot, and runs the tests in it (see testslot).
func TestMain(m *testing.M) {
	testslot.Main(m, func() func() {
		if testing.Short() {
			return func() {}
		}
		b := &postgres.Local{}
		nodes, err := b.Start(context.Background(), cluster.Spec{Nodes: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, "pglock tests:", err)
			_ = b.Stop(context.Background())
			os.Exit(1)
		}
		server = nodes[0].Addr
		return func() { _ = b.Stop(context.Background()) }
	})
}

// needServer skips a test in -short mode.
func needServer(t *testing.T) {
	t.Helper()
	if server == "" {
		t.Skip("locks against a postgres server: not in -short")
	}
}

// client is one worker's handle to the server, named so that the test can find its backends; closed at the end.
func client(t *testing.T, name string) *pglock.Node {
	t.Helper()
	n, err := pglock.NewNode(pglock.NodeConfig{Addr: server, Name: name, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// mk builds the named strategy over one node.
func mk(t *testing.T, name string, n *pglock.Node, opts ...lock.Option) lock.Locker {
	t.Helper()
	info, err := lock.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return info.Make().(pglock.Strategy).New([]*pglock.Node{n}, lock.NewOptions(opts...))
}

// admin is a connection of the test's own, to look at and act on the server from outside the lock.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	host, port, _ := strings.Cut(server, ":")
	c, err := pgx.Connect(context.Background(), fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", host, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// key is a lock key of the test's own, so that tests sharing the server never meet.
func key(t *testing.T) string { return "k-" + strings.ReplaceAll(t.Name(), "/", "-") }

// noRetry is the option of a client that tries once.
var noRetry = lock.WithRetries(0, 0)

// all is every strategy of the package, and whether its lock lives with its connection (session or transaction)
// rather than in a row with an expiry.
var all = []struct {
	name string
	held bool
}{
	{"pg-advisory", true}, {"pg-advisory-xact", true}, {"pg-for-update", true},
	{"pg-unique-row", false}, {"pg-unique-row-fenced", false},
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
