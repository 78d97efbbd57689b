package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// proc returns node i and the postmaster serving it now.
func (l *Local) proc(i int) (*pgNode, *cluster.Proc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= len(l.nodes) {
		return nil, nil, fmt.Errorf("no node %d", i)
	}
	n := l.nodes[i]
	if n.proc == nil {
		return nil, nil, fmt.Errorf("%s: %w", n.name, cluster.ErrNodeDown)
	}
	return n, n.proc, nil
}

// Pause implements cluster.Pauser: SIGSTOP to the postmaster first (so that it forks nothing more), then to every
// process it forked. Stopping the postmaster alone would freeze nothing a client talks to: each connection is
// served by a backend of its own, which PostgreSQL puts in a session of its own. A node that is down is
// ErrNodeDown.
func (l *Local) Pause(_ context.Context, i int) error {
	n, p, err := l.proc(i)
	if err != nil {
		return err
	}
	return p.Pause(n.name)
}

// Resume implements cluster.Pauser: SIGCONT to the backends, then to the postmaster. A postmaster that has exited
// since its pause (or a restarted one, never paused) needs nothing.
func (l *Local) Resume(_ context.Context, i int) error {
	_, p, err := l.proc(i)
	if err != nil {
		return err
	}
	return p.Resume()
}

// Kill implements cluster.Restarter: SIGKILL to the postmaster and every process it forked, with no shutdown
// and no checkpoint. It returns once they have all exited, so that a restart finds the shared memory free.
func (l *Local) Kill(_ context.Context, i int) error {
	_, p, err := l.proc(i)
	if err != nil {
		return err
	}
	p.Kill()
	return nil
}

// Restart implements cluster.Restarter: the node's server starts again on the same port and data directory,
// after replaying its WAL (see Local for what a crash kept). The port may linger for a moment after the kill, so
// the start is tried again for a couple of seconds.
func (l *Local) Restart(ctx context.Context, i int) (string, error) {
	n, p, err := l.proc(i)
	if err != nil {
		return "", err
	}
	if !p.Exited() {
		return "", fmt.Errorf("%s is still running", n.name)
	}
	// The killed postmaster's pid file would make the new one check whether that pid still runs; it does not.
	_ = os.Remove(filepath.Join(n.data(), "postmaster.pid"))
	var last error
	for range 20 {
		if last = l.startServer(ctx, n); last == nil {
			return n.addr(), nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", last
}

// PIDs returns the process ids of every running server process, postmasters and the processes they forked, for
// tests that check nothing is left behind.
func (l *Local) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, n := range l.nodes {
		if n.proc != nil && !n.proc.Exited() {
			out = append(out, n.proc.PID())
			out = append(out, children(n.proc.PID())...)
		}
	}
	return out
}

// Stop implements cluster.Backend: every server is killed with all its processes and the base directory (the
// template and every node's data) is removed. It is safe to call more than once.
func (l *Local) Stop(_ context.Context) error {
	l.mu.Lock()
	nodes, base := l.nodes, l.base
	l.nodes, l.base = nil, ""
	l.mu.Unlock()
	for _, n := range nodes {
		n.proc.Kill()
	}
	if base != "" {
		return os.RemoveAll(base)
	}
	return nil
}

// SweepStale removes what killed harnesses left: base directories whose owner process is gone, after killing any
// postgres still serving one of them (Pdeathsig makes that rare). It returns the directories it removed.
func SweepStale() []string {
	roots := []string{os.TempDir(), "/tmp"}
	var stale []string
	seen := map[string]bool{}
	for _, root := range roots {
		dirs, _ := filepath.Glob(filepath.Join(root, dirPrefix+"*"))
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, ownerFile))
			if seen[d] || err != nil || ownerAlive(string(b)) {
				continue
			}
			seen[d] = true
			stale = append(stale, d)
		}
	}
	for _, d := range stale {
		for _, pid := range serversIn(d) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = os.RemoveAll(d)
	}
	return stale
}

// serversIn finds the postgres processes, the postmaster and its backends, working in a data directory under dir
// (a backend's command line is its process title, "postgres: checkpointer", which names no directory).
func serversIn(dir string) []int { return cluster.ProcessesIn("postgres", dir) }
