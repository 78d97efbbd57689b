package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// proc returns member i and its current process.
func (l *Local) proc(i int) (*member, *cluster.Proc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= len(l.members) || l.members[i].proc == nil {
		return nil, nil, fmt.Errorf("no member %d", i)
	}
	m := l.members[i]
	return m, m.proc, nil
}

// Pause implements cluster.Pauser with SIGSTOP: the member stops answering its clients and its peers, its
// connections stay open, and what they send waits in the sockets until Resume.
func (l *Local) Pause(_ context.Context, i int) error {
	m, p, err := l.proc(i)
	if err != nil {
		return err
	}
	return p.Pause(m.cfg.Name)
}

// Resume implements cluster.Pauser with SIGCONT. A member that has exited since its pause has nothing to resume;
// a restarted one was never paused.
func (l *Local) Resume(_ context.Context, i int) error {
	_, p, err := l.proc(i)
	if err != nil {
		return err
	}
	return p.Resume()
}

// Kill implements cluster.Restarter with SIGKILL: no shutdown; the member's data stay in its directory.
func (l *Local) Kill(_ context.Context, i int) error {
	_, p, err := l.proc(i)
	if err != nil {
		return err
	}
	p.Kill()
	return nil
}

// Restart implements cluster.Restarter: the member comes back on the same ports with its data, and rejoins the
// cluster from its log. It returns once the member listens for clients, not once it serves them: etcd serves its
// clients only after it has published itself through the leader, and with a majority of the members down there is
// none until others come back.
func (l *Local) Restart(ctx context.Context, i int) (string, error) {
	m, p, err := l.proc(i)
	if err != nil {
		return "", err
	}
	if !p.Exited() {
		return "", fmt.Errorf("%s is still running", m.cfg.Name)
	}
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		if last = l.spawn(m); last == nil {
			if last = l.waitListening(ctx, m, 10*time.Second); last == nil {
				return m.cfg.Client, nil
			}
			if _, p, err := l.proc(i); err == nil {
				p.Kill()
			}
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		time.Sleep(100 * time.Millisecond) // the ports may linger for a moment after the kill
	}
	return "", fmt.Errorf("restart %s: %w", m.cfg.Name, last)
}

// waitListening waits until member m's process accepts connections on its client and peer ports, failing when
// it exits.
func (l *Local) waitListening(ctx context.Context, m *member, within time.Duration) error {
	l.mu.Lock()
	p := m.proc
	l.mu.Unlock()
	var exited <-chan struct{}
	if p != nil {
		exited = p.Done()
	}
	err := cluster.Await(ctx, exited, within, m.cfg.Name, func() error { return dialBoth(m.cfg.Client, m.cfg.Peer) })
	if errors.Is(err, cluster.ErrExited) {
		return fmt.Errorf("%w: %s", err, tail(m.cfg))
	}
	return err
}

// dialBoth connects to each address and hangs up.
func dialBoth(addrs ...string) error {
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
		if err != nil {
			return err
		}
		_ = c.Close()
	}
	return nil
}

// CutPeers cuts member i from every other member, both ways, as a blackhole: what either side sends the other is
// lost, and the connections stay open until HealPeers. Its clients still reach it. (It implements the
// fault.PeerCutter of the peer-partition kind.)
func (l *Local) CutPeers(_ context.Context, i int) error {
	l.mu.Lock()
	p := l.peers
	l.mu.Unlock()
	if p == nil {
		return errors.New("the cluster is not running")
	}
	return p.cut(i)
}

// HealPeers lifts every cut of member i: the connections that lost bytes are closed, and the members dial again.
func (l *Local) HealPeers(_ context.Context, i int) error {
	l.mu.Lock()
	p := l.peers
	l.mu.Unlock()
	if p != nil {
		p.heal(i)
	}
	return nil
}

// Leader returns the index of the member that most of the members that answer name as their leader: what the
// cluster would route a write to now. A cut or paused leader may still believe it leads; the others decide.
func (l *Local) Leader(ctx context.Context) (int, error) {
	l.mu.Lock()
	n := len(l.admin)
	ids := map[uint64]int{}
	for i, m := range l.members {
		ids[uint64(m.id)] = i
	}
	l.mu.Unlock()
	votes := map[uint64]int{}
	for i := range n {
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		st, err := l.status(sctx, i)
		cancel()
		if err == nil && st.Leader != 0 {
			votes[st.Leader]++
		}
	}
	best, most := uint64(0), 0
	for id, v := range votes {
		if v > most {
			best, most = id, v
		}
	}
	if i, ok := ids[best]; ok && most > 0 {
		return i, nil
	}
	return 0, errors.New("no member names a leader")
}

// Client returns the backend's own client of member i, reached directly (not through any link), for tests and
// tools that look at what a member holds.
func (l *Local) Client(i int) *clientv3.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= len(l.admin) {
		return nil
	}
	return l.admin[i]
}

// PIDs returns the process ids of the running members, for tests that check nothing is left behind.
func (l *Local) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, m := range l.members {
		if m.proc != nil && !m.proc.Exited() {
			out = append(out, m.proc.PID())
		}
	}
	return out
}

// PeerConnections counts the peer connections the fronts passed on, by whether they could tell which member
// dialled: a test's evidence that the cuts act on the links they mean to.
func (l *Local) PeerConnections() (identified, unknown int64) {
	l.mu.Lock()
	p := l.peers
	l.mu.Unlock()
	if p == nil {
		return 0, 0
	}
	return p.counts()
}

// Stop implements cluster.Backend: every member is killed and its directory removed. It is safe to call twice.
func (l *Local) Stop(_ context.Context) error {
	l.mu.Lock()
	ms, admin, peers := l.members, l.admin, l.peers
	l.members, l.admin, l.peers = nil, nil, nil
	l.mu.Unlock()
	for _, m := range ms {
		m.proc.Kill()
	}
	for _, c := range admin {
		_ = c.Close()
	}
	var err error
	if peers != nil {
		err = peers.close()
	}
	for _, m := range ms {
		_ = os.RemoveAll(m.cfg.Dir)
	}
	return err
}
