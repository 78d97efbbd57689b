package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// Local runs each node as a postgres server process on a free loopback port, with a data directory of its own
// copied from one initdb per Start (initdb takes about a second; a copy a fraction of that). The postmaster is
// started directly, not through pg_ctl, so that the backend holds its process and can stop or kill it and every
// backend process it forked. Processes get SIGKILL if the harness itself dies (Pdeathsig on the postmaster; its
// children exit when they see it gone). When the harness runs as root, initdb and the servers run as the postgres
// user (both refuse root), in directories that user owns.
//
// Durability: the servers run with fsync and full_page_writes off, which a process crash cannot tell apart from
// on: whatever WAL a server has written sits in the kernel's page cache, which a SIGKILL of every server process
// leaves alone, so a restarted server replays it. Only an operating-system crash or a power loss would lose it,
// and the harness simulates neither. What a process crash does lose is decided by synchronous_commit, which is
// what Spec.Persistence sets here:
//   - "none" (the default): synchronous_commit off. A commit returns before its WAL leaves the server's shared
//     memory; the WAL writer writes it within three wal_writer_delay (600 ms by default). A crash loses the
//     commits of that last window and keeps everything older: unlike a Redis node with no persistence, a
//     restarted server is not empty, but a lock row written just before the crash may be gone, and so may a
//     sequence's advance: nextval can hand out again a value it gave just before the crash (a fencing token
//     given twice; measured under crash-restart-single with pg-unique-row-fenced).
//   - "aof-always": synchronous_commit on. Every commit's WAL is written (to the kernel) before the commit
//     returns, so a crash-restart keeps every committed row, as Redis's appendfsync always keeps every write.
//
// Session and transaction locks never survive a crash, whatever the setting: they live in shared memory.
type Local struct {
	// BinDir holds initdb and postgres; empty means DefaultBinDir.
	BinDir string

	mu     sync.Mutex
	initdb string
	server string
	cred   *syscall.Credential // the servers' user when the harness is root, nil otherwise
	base   string              // every directory of this Start: the template and one per node
	nodes  []*pgNode
	// syncCommit is synchronous_commit for every server of this Start, from Spec.Persistence.
	syncCommit string
}

var (
	_ cluster.Backend   = (*Local)(nil)
	_ cluster.Pauser    = (*Local)(nil)
	_ cluster.Restarter = (*Local)(nil)
	_ cluster.Advisor   = (*Local)(nil)
)

// pgNode is one server: its port and directory (data/ and the Unix socket), and the postmaster serving it now.
type pgNode struct {
	name string
	port int
	dir  string
	proc *cluster.Proc // the postmaster now, with the backends it forked as its kin; nil before its first start
}

func (n *pgNode) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }
func (n *pgNode) data() string { return filepath.Join(n.dir, "data") }

// Name implements cluster.Backend.
func (l *Local) Name() string { return "local" }

// Lacks implements cluster.Advisor: why a scenario's clock or failover fault is refused.
func (l *Local) Lacks(capability string) string {
	switch capability {
	case "clock", "clock-rate":
		return "the postgres system does not run its servers under libfaketime yet, so a server's clock (now(), which a lock row's expiry reads) cannot be moved"
	case "failover", "replica-lag":
		return "the postgres system's servers have no replica (no streaming replication is set up), so there is nothing to fail over to"
	}
	return ""
}

// sweepOnce sweeps what killed harnesses left, once per process, at the first Start.
var sweepOnce sync.Once

// Start implements cluster.Backend: one initdb into a template, a copy per node, and every server started in
// parallel; it returns once each answers SELECT 1. A Spec asking for replicas or a fake clock is refused (the
// scenario's own check refuses those faults first, with Lacks's reason).
func (l *Local) Start(ctx context.Context, spec cluster.Spec) ([]cluster.Node, error) {
	if spec.Replicas {
		return nil, cluster.Lacking(l, "failover", "give nodes replicas")
	}
	if spec.FakeClock || len(spec.ClockRates) > 0 {
		return nil, cluster.Lacking(l, "clock", "run nodes under a fake clock")
	}
	l.mu.Lock()
	l.syncCommit = "off"
	if spec.Persistence == "aof-always" {
		l.syncCommit = "on"
	}
	l.mu.Unlock()
	if err := l.prepare(ctx); err != nil {
		l.Stop(context.Background())
		return nil, err
	}
	l.mu.Lock()
	for i := range spec.Nodes {
		l.nodes = append(l.nodes, &pgNode{name: cluster.NodeName(i), dir: filepath.Join(l.base, cluster.NodeName(i))})
	}
	nodes := append([]*pgNode(nil), l.nodes...)
	l.mu.Unlock()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.startNew(ctx, n)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		l.Stop(context.Background())
		return nil, err
	}
	_ = os.RemoveAll(filepath.Join(l.base, "template")) // every node has its copy; restarts keep their own
	out := make([]cluster.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, cluster.Node{Name: n.name, Addr: n.addr()})
	}
	return out, nil
}

// prepare finds the binaries and the servers' user, sweeps what killed harnesses left, makes the base directory
// (marked with this process as its owner) and runs initdb into its template.
func (l *Local) prepare(ctx context.Context) error {
	dir := l.BinDir
	if dir == "" {
		dir = DefaultBinDir
	}
	initdb, server, err := findBinaries(dir)
	if err != nil {
		return err
	}
	cred, err := serverUser()
	if err != nil {
		return err
	}
	sweepOnce.Do(func() {
		if gone := SweepStale(); len(gone) > 0 {
			fmt.Fprintf(os.Stderr, "postgres: removed %d director(ies) a killed harness left\n", len(gone))
		}
	})
	base, err := os.MkdirTemp(tempRoot(cred), dirPrefix)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.initdb, l.server, l.cred, l.base = initdb, server, cred, base
	l.mu.Unlock()
	if err := os.WriteFile(filepath.Join(base, ownerFile), []byte(cluster.OwnerTag()), 0o644); err != nil {
		return err
	}
	if err := chown(base, cred); err != nil {
		return err
	}
	return l.runInitdb(ctx)
}

// The base directory's name prefix (under the temporary directory) and the file naming its owner.
const (
	dirPrefix = "redlock-harness-pg-"
	ownerFile = "owner"
)

// runInitdb makes the template data directory: trust authentication on loopback, a superuser named postgres,
// no fsync, and 1 MB WAL segments so that each node's copy is a few megabytes smaller.
func (l *Local) runInitdb(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, l.initdb, "-D", filepath.Join(l.base, "template"), "-A", "trust", "-U", "postgres",
		"--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C", "--wal-segsize=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: l.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, tail(out))
	}
	return nil
}

// startNew copies the template into the node's directory and starts its server on a free port (another one when
// the port was taken meanwhile).
func (l *Local) startNew(ctx context.Context, n *pgNode) error {
	if err := os.Mkdir(n.dir, 0o700); err != nil {
		return err
	}
	if err := chown(n.dir, l.cred); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", filepath.Join(l.base, "template"), n.data()).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: copy the template: %v: %s", n.name, err, out)
	}
	var last error
	for range 5 {
		port, err := cluster.FreePort()
		if err != nil {
			last = err
			continue
		}
		l.mu.Lock()
		n.port = port
		l.mu.Unlock()
		if last = l.startServer(ctx, n); last == nil || ctx.Err() != nil {
			break
		}
	}
	if last != nil {
		return fmt.Errorf("start %s: %w", n.name, last)
	}
	return nil
}

// startServer starts the postmaster of node n on its port and data directory and waits until it answers.
func (l *Local) startServer(ctx context.Context, n *pgNode) error {
	logPath := filepath.Join(n.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	l.mu.Lock()
	server, cred, args := l.server, l.cred, serverArgs(n, l.syncCommit)
	l.mu.Unlock()
	cmd := exec.Command(server, args...)
	// StartProc's process group keeps the postmaster out of the harness's (a Ctrl-C in the terminal is the
	// harness's to handle); its children make sessions of their own (setsid), so they are its kin: paused,
	// resumed and killed with it (see children).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := cluster.StartProc(cmd, children)
	if err != nil {
		return err
	}
	l.mu.Lock()
	n.proc = proc
	l.mu.Unlock()
	if err := waitReady(ctx, n.addr(), proc.Done()); err != nil {
		proc.Kill()
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("%v (port %d): %s", err, n.port, tail(b))
	}
	return nil
}

// serverArgs is a node's command line: loopback only, its own socket directory, no waiting for the disk, and
// synchronous_commit as the persistence asks (see Local on what each keeps across a crash). max_connections
// leaves room for every worker's connections and for those a fault leaves half-closed until the server notices.
func serverArgs(n *pgNode, syncCommit string) []string {
	return []string{"-D", n.data(), "-p", strconv.Itoa(n.port), "-k", n.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=" + syncCommit,
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB"}
}

// waitReady polls the server at addr until a connection answers SELECT 1, for up to 30 s (a restart first
// replays its WAL), failing at once if the postmaster exits.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	host, port, _ := net.SplitHostPort(addr)
	connStr := fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable connect_timeout=1", host, port)
	return cluster.Await(ctx, exited, 30*time.Second, "postgres", func() error { return selectOne(ctx, connStr) })
}

// selectOne connects, runs SELECT 1 and closes, within a second.
func selectOne(ctx context.Context, connStr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, connStr)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "SELECT 1")
	return err
}

// tail is the end of a log or of a command's output, for an error message.
func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	return string(b)
}
