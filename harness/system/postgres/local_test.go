package postgres

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// start runs a backend of n servers for the test, stopped at its end. Missing binaries fail the test with the
// install command, as the Redis backend's tests do for redis-server.
func start(t *testing.T, n int, persistence string) (*Local, []cluster.Node) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts postgres servers: not in -short")
	}
	l := &Local{}
	t.Cleanup(func() { _ = l.Stop(context.Background()) })
	nodes, err := l.Start(context.Background(), cluster.Spec{Nodes: n, Persistence: persistence})
	if err != nil {
		t.Fatal(err)
	}
	return l, nodes
}

// connect opens a connection of the test's own to a node, directly.
func connect(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig("user=postgres dbname=postgres sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	cfg.Host = host
	var p uint16
	for _, r := range port {
		p = p*10 + uint16(r-'0')
	}
	cfg.Port = p
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.PgConn().Conn().Close() })
	return c
}

// query runs sql with a deadline and returns the error, nil when it answered.
func query(c *pgx.Conn, within time.Duration, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_, err := c.Exec(ctx, sql)
	return err
}

func TestFiveServersStartAnswerAndLeaveNoProcessOrDirectoryOnceStopped(t *testing.T) {
	began := time.Now()
	l, nodes := start(t, 5, "none")
	t.Logf("5 servers started in %s", time.Since(began).Round(time.Millisecond))
	if len(nodes) != 5 {
		t.Fatalf("%d nodes, want 5", len(nodes))
	}
	for _, n := range nodes {
		if err := query(connect(t, n.Addr), 2*time.Second, "SELECT 1"); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
	}
	pids := l.PIDs()
	if len(pids) < 10 { // a postmaster and its auxiliary processes per server
		t.Fatalf("only %d server processes: %v", len(pids), pids)
	}
	base := l.base
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("process %d outlived Stop", p)
		}
	}
	if _, err := os.Stat(base); !os.IsNotExist(err) {
		t.Errorf("%s outlived Stop: %v", base, err)
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestAPausedServerAnswersNothingOnAnOpenConnectionNorANewOneUntilItResumes(t *testing.T) {
	l, nodes := start(t, 1, "none")
	c := connect(t, nodes[0].Addr)
	if err := query(c, time.Second, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Pause(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Resume(context.Background(), 0) })
	if err := query(c, 300*time.Millisecond, "SELECT 1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a query on an open connection to a paused server: %v, want a timeout (its backend must be frozen too)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := pgx.Connect(ctx, "host=127.0.0.1 port="+strings.Split(nodes[0].Addr, ":")[1]+" user=postgres sslmode=disable")
	cancel()
	if err == nil {
		t.Fatal("a new connection to a paused server was answered")
	}
	if err := l.Resume(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if err := query(connect(t, nodes[0].Addr), 2*time.Second, "SELECT 1"); err != nil {
		t.Fatalf("after the resume: %v", err)
	}
}

func TestAKilledServerRestartsOnItsPortWithItsCommittedRowsAndWithoutItsSessionLocks(t *testing.T) {
	tests := []struct {
		name        string
		persistence string
		// settle is how long the test waits between the commit and the kill.
		settle time.Duration
	}{
		{name: "with aof-always (synchronous_commit on) a row committed just before the kill survives", persistence: "aof-always"},
		{name: "with none (synchronous_commit off) a row the WAL writer has written survives", persistence: "none", settle: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l, nodes := start(t, 1, tc.persistence)
			c := connect(t, nodes[0].Addr)
			for _, s := range []string{"CREATE TABLE kept (v int)", "INSERT INTO kept VALUES (42)", "SELECT pg_advisory_lock(7)"} {
				if err := query(c, 2*time.Second, s); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(tc.settle)
			pids := l.PIDs()
			if err := l.Kill(ctx, 0); err != nil {
				t.Fatal(err)
			}
			for _, p := range pids {
				if alive(p) {
					t.Fatalf("process %d outlived the kill", p)
				}
			}
			if err := l.Pause(ctx, 0); !errors.Is(err, cluster.ErrNodeDown) {
				t.Fatalf("pause of a killed node: %v, want ErrNodeDown", err)
			}
			if err := l.Resume(ctx, 0); err != nil {
				t.Fatalf("resume of a killed node: %v", err)
			}
			began := time.Now()
			addr, err := l.Restart(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("restarted in %s", time.Since(began).Round(time.Millisecond))
			if addr != nodes[0].Addr {
				t.Fatalf("restarted at %s, want %s", addr, nodes[0].Addr)
			}
			c2 := connect(t, addr)
			var v int
			if err := c2.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
				t.Fatalf("the committed row after the restart: %d, %v", v, err)
			}
			var free bool
			if err := c2.QueryRow(ctx, "SELECT pg_try_advisory_lock(7)").Scan(&free); err != nil || !free {
				t.Fatalf("the killed session's advisory lock: free %v, %v; a restart must forget it", free, err)
			}
		})
	}
}

func TestClockFaultsAndFailoverAreRefusedWithTheReasonAndDockerIsNotBuiltYet(t *testing.T) {
	l := &Local{}
	for _, tc := range []struct{ capability, want string }{
		{"clock", "libfaketime"}, {"clock-rate", "libfaketime"}, {"failover", "no replica"}, {"replica-lag", "no replica"},
	} {
		err := cluster.Lacking(l, tc.capability, "do it")
		if !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an ErrUnsupported naming %q", tc.capability, err, tc.want)
		}
	}
	if _, err := l.Start(context.Background(), cluster.Spec{Nodes: 1, Replicas: true}); !errors.Is(err, cluster.ErrUnsupported) {
		t.Errorf("a spec with replicas: %v, want ErrUnsupported", err)
	}
	if _, err := (System{}).NewBackend("docker"); err == nil || !strings.Contains(err.Error(), "not built") {
		t.Errorf("the docker backend: %v, want an error saying it is not built", err)
	}
	if l.Lacks("pause") != "" || l.Lacks("restart") != "" {
		t.Error("the backend says it lacks a fault it can do")
	}
}

// alive reports whether pid is a process that has not exited (a zombie has: only its exit status is left).
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z"
}

func TestTheSweepFindsAServerAndItsBackendsByTheirDataDirectory(t *testing.T) {
	l, nodes := start(t, 1, "none")
	c := connect(t, nodes[0].Addr) // a backend of its own, whose command line is a title naming no directory
	defer c.Close(context.Background())
	l.mu.Lock()
	base := l.base
	l.mu.Unlock()
	found := serversIn(base)
	for _, pid := range l.PIDs() {
		if !slices.Contains(found, pid) {
			t.Fatalf("the processes found in %s, %v, miss %d of the server's %v", base, found, pid, l.PIDs())
		}
	}
	if other := serversIn(t.TempDir()); len(other) > 0 {
		t.Fatalf("processes found in an empty directory: %v", other)
	}
}
