// Package pglock holds the lock strategies of the PostgreSQL system: a session-level advisory lock, a
// transaction-level one, a row locked FOR UPDATE, and a lock row with an expiry (with and without a fencing
// token). Each strategy reproduces how applications take these locks, weaknesses included: the point is to
// measure them under the same faults, workload and checker as the Redis strategies.
//
// The strategies take typed handles, one *Node per server, that the postgres system makes for each worker
// (harness/system/postgres); the system imports this package, never the other way round.
package pglock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// DialFunc opens one connection to a server. The harness passes the worker's dialer, whose connections freeze
// while the worker is stalled.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// NodeConfig says how a worker reaches one server.
type NodeConfig struct {
	// Addr is host:port, the worker's link to the server.
	Addr string
	// Dial opens every connection, cancel requests included; nil dials directly.
	Dial DialFunc
	// Name is sent as application_name, so that pg_stat_activity says which worker a backend serves.
	Name string
	// ConnectTimeout bounds one connection's start-up (TCP and the start-up handshake); 0 means only the caller's
	// context bounds it.
	ConnectTimeout time.Duration
	// User and Database default to "postgres"; Password is for servers that ask for one.
	User, Password, Database string
}

// Node is one worker's handle to one PostgreSQL server: a few pgx connections, dialled lazily, of which a lock
// that lives with its session takes one for itself (Conn) and gives it back when it is done (Put).
//
// Why not pgxpool: a session-level advisory lock is held by one connection for its whole life, so the strategy
// must choose which connection that is and keep it out of everyone else's hands, which a pool's Acquire/Release
// does too but with a background health check and idle reaper that would close or ping the holder's connection
// behind its back; and pgxpool needs a module (puddle) this repository does not require. A Node is what the
// strategies need and no more: at most MaxIdle idle connections, every socket tracked so that Close closes all of
// them at once, as the kernel closes a dead process's sockets.
type Node struct {
	addr string
	cfg  *pgx.ConnConfig

	mu      sync.Mutex
	idle    []*pgx.Conn
	sockets map[*trackedConn]struct{}
	closed  bool
	schemas map[string]bool // the schemas (ensureSchema) known to exist on the server
}

// MaxIdle is how many idle connections a Node keeps per server: a worker holds at most one lock at a time, so
// one connection serves it; a second covers the moment a lease's connection is being given back.
const MaxIdle = 2

// ErrClosed is returned by a Node whose Close has been called: the worker is gone.
var ErrClosed = errors.New("pglock: node closed")

// NewNode makes a handle to the server at c.Addr. It opens nothing: the first Conn or Ping dials.
func NewNode(c NodeConfig) (*Node, error) {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("pglock: address %q: %w", c.Addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("pglock: port of %q: %w", c.Addr, err)
	}
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.Fallbacks = host, uint16(p), nil
	cfg.User, cfg.Password, cfg.Database = orDefault(c.User, "postgres"), c.Password, orDefault(c.Database, "postgres")
	cfg.ConnectTimeout = c.ConnectTimeout
	if c.Name != "" {
		cfg.RuntimeParams["application_name"] = c.Name
	}
	// One round trip per statement, whatever the connection has seen before: the simple protocol sends the
	// statement with its arguments inlined, where the default would prepare each new statement first.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	n := &Node{addr: c.Addr, cfg: cfg, sockets: map[*trackedConn]struct{}{}, schemas: map[string]bool{}}
	base := c.Dial
	if base == nil {
		base = (&net.Dialer{}).DialContext
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.dial(ctx, base, network, addr)
	}
	return n, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Addr is the address the node dials.
func (n *Node) Addr() string { return n.addr }

// dial opens a tracked connection, refused once the node is closed.
func (n *Node) dial(ctx context.Context, base DialFunc, network, addr string) (net.Conn, error) {
	c, err := base(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	t := &trackedConn{Conn: c, n: n}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		_ = c.Close()
		return nil, ErrClosed
	}
	n.sockets[t] = struct{}{}
	return t, nil
}

// trackedConn is a socket the node knows of, so that Close can close it whoever holds it.
type trackedConn struct {
	net.Conn
	n    *Node
	once sync.Once
}

// Close forgets the socket and closes it.
func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.n.mu.Lock()
		delete(t.n.sockets, t)
		t.n.mu.Unlock()
	})
	return t.Conn.Close()
}

// Conn returns a connection for the caller's own use: an idle one, or a new one. The caller gives it back with
// Put (or Discard when it can no longer trust it).
func (n *Node) Conn(ctx context.Context) (*pgx.Conn, error) {
	n.mu.Lock()
	for len(n.idle) > 0 {
		c := n.idle[len(n.idle)-1]
		n.idle = n.idle[:len(n.idle)-1]
		if !c.IsClosed() {
			n.mu.Unlock()
			return c, nil
		}
	}
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return pgx.ConnectConfig(ctx, n.cfg)
}

// Put gives a connection back. One that is closed, inside a transaction, or beyond MaxIdle is discarded.
func (n *Node) Put(c *pgx.Conn) {
	if c == nil {
		return
	}
	n.mu.Lock()
	keep := !n.closed && !c.IsClosed() && c.PgConn().TxStatus() == 'I' && len(n.idle) < MaxIdle
	if keep {
		n.idle = append(n.idle, c)
	}
	n.mu.Unlock()
	if !keep {
		Discard(c)
	}
}

// Discard closes a connection's socket at once, without the Terminate message a polite close sends: the server
// sees the end of the stream and ends the session, releasing every lock it held. It never blocks, not even on a
// frozen worker's connection, which is why the strategies discard every connection an operation failed on
// rather than wait for pgx's own asynchronous close (a cancel request, then up to 15 s of draining).
func Discard(c *pgx.Conn) {
	if c == nil {
		return
	}
	if raw := c.PgConn().Conn(); raw != nil {
		_ = raw.Close()
	}
}

// Ping runs SELECT 1 on a connection of the node, opening one when none is idle.
func (n *Node) Ping(ctx context.Context) error {
	c, err := n.Conn(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		Discard(c)
		return err
	}
	n.Put(c)
	return nil
}

// Close closes every socket the node opened, idle or held by a lease, as a process that dies has the kernel
// close all of its sockets: the server ends those sessions and releases their locks. Later calls fail with
// ErrClosed. It is safe to call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	n.closed = true
	socks := make([]*trackedConn, 0, len(n.sockets))
	for s := range n.sockets {
		socks = append(socks, s)
	}
	n.idle = nil
	n.mu.Unlock()
	for _, s := range socks {
		_ = s.Close()
	}
	return nil
}
