package etcd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/types"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
)

// Default timing of a local cluster. An election timeout of 600ms keeps etcd's minimum lease TTL (1.5 election
// timeouts, rounded up to whole seconds) at one second, the scenarios' TTL: with etcd's own default (1s) every
// lease of a 1s-TTL scenario would be granted for 2s.
const (
	DefaultTickMs     = 100
	DefaultElectionMs = 600
)

// Local runs an etcd cluster on this machine: each member is a process of its own, this very executable (or the
// one MemberExecutableEnv names) started again with MemberEnv set, listening for clients and peers on free
// loopback ports, with its data in a directory of its own. Members get SIGKILL if the harness dies (Pdeathsig). A pause (SIGSTOP) or a crash (SIGKILL) hits
// one member; its peers elect a new leader when it was the leader.
//
// The members reach each other through the backend's fronts and links (peerNet), so that CutPeers can cut one
// member from its peers (fault kind peer-partition) while its clients still reach it.
//
// Spec.Persistence is moot: etcd always writes its log (WAL) and snapshots, and a member killed and restarted
// comes back with every entry it had written, under "none" as under "aof-always" (without fsync, which a killed
// process does not need: its writes are in the page cache). A member that lost its data would have to be removed
// from the cluster and added again, which no fault here does. Clock faults and failovers are refused (Lacks).
type Local struct {
	// TickMs and ElectionMs are the heartbeat interval and election timeout; zero means DefaultTickMs and
	// DefaultElectionMs.
	TickMs, ElectionMs uint

	mu      sync.Mutex
	members []*member
	peers   *peerNet
	admin   []*clientv3.Client
}

// member is one member's process and what it needs to start again.
type member struct {
	cfg  memberConfig
	id   types.ID
	proc *cluster.Proc // the member's process now; nil before its first start
}

var (
	_ cluster.Pauser    = (*Local)(nil)
	_ cluster.Restarter = (*Local)(nil)
	_ cluster.Advisor   = (*Local)(nil)
)

// Name implements cluster.Backend.
func (l *Local) Name() string { return "local" }

// Start implements cluster.Backend: it starts spec.Nodes members (n1…nN) and returns, each at its client address,
// once every member answers and they agree on a leader.
func (l *Local) Start(ctx context.Context, spec cluster.Spec) ([]cluster.Node, error) {
	if err := l.refuse(spec); err != nil {
		return nil, err
	}
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("an etcd cluster needs at least one member, not %d", spec.Nodes)
	}
	err := l.prepare(spec.Nodes)
	if err == nil {
		err = l.spawnAll(ctx)
	}
	if err == nil {
		err = l.waitLeader(ctx, 30*time.Second)
	}
	if err != nil {
		_ = l.Stop(context.Background())
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]cluster.Node, len(l.members))
	for i, m := range l.members {
		out[i] = cluster.Node{Name: m.cfg.Name, Addr: m.cfg.Client}
	}
	return out, nil
}

// refuse rejects what a spec asks that Go processes cannot have: a fake clock, replicas.
func (l *Local) refuse(spec cluster.Spec) error {
	if spec.FakeClock || len(spec.ClockRates) > 0 {
		return cluster.Lacking(l, "clock", "run members under a fake clock")
	}
	if spec.Replicas {
		return cluster.Lacking(l, "failover", "give members replicas")
	}
	return nil
}

// Lacks implements cluster.Advisor: why the faults an etcd cluster here cannot have are impossible, not merely
// unconfigured.
func (l *Local) Lacks(capability string) string {
	switch capability {
	case "clock", "clock-rate":
		return "etcd members are Go programs, which read the clock through the vDSO, where libfaketime cannot reach it"
	case "failover", "replica-lag":
		return "etcd has no replicas to promote: its members elect a leader among themselves (use crash-restart, pause or peer-partition)"
	}
	return ""
}

// prepare makes every member's directory, configuration and ID, and the fronts of the peer network.
func (l *Local) prepare(n int) error {
	tok := make([]byte, 6)
	_, _ = rand.Read(tok)
	token := "redlock-harness-" + hex.EncodeToString(tok)
	tick, election := l.TickMs, l.ElectionMs
	if tick == 0 {
		tick = DefaultTickMs
	}
	if election == 0 {
		election = DefaultElectionMs
	}
	var names, ids, cl []string
	var lns []net.Listener
	for i := range n {
		m, ln, err := l.newMember(cluster.NodeName(i), token, tick, election)
		if err != nil {
			closeAll(lns)
			return err
		}
		lns = append(lns, ln)
		names = append(names, m.cfg.Name)
		ids = append(ids, m.id.String())
		cl = append(cl, m.cfg.Name+"=http://"+m.cfg.Advertise)
	}
	for _, m := range l.members {
		m.cfg.Cluster = strings.Join(cl, ",")
	}
	peers, err := newPeerNet(names, ids, lns)
	if err != nil {
		closeAll(lns)
		return err
	}
	l.mu.Lock()
	l.peers = peers
	l.mu.Unlock()
	return nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// newMember makes a member's directory (registered for Stop at once), its front's listener and its ID.
func (l *Local) newMember(name, token string, tick, election uint) (*member, net.Listener, error) {
	dir, err := os.MkdirTemp("", "redlock-harness-etcd-"+name+"-")
	if err != nil {
		return nil, nil, err
	}
	m := &member{cfg: memberConfig{Name: name, Dir: dir, Token: token, TickMs: tick, ElectionMs: election}}
	l.mu.Lock()
	l.members = append(l.members, m)
	l.mu.Unlock()
	// The owner file lets the next harness remove the directory should this one be killed (cluster.SweepStaleLocal).
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(cluster.OwnerTag()), 0o644); err != nil {
		return nil, nil, err
	}
	// The front never gives its port up, so the kernel may choose it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	m.cfg.Advertise = ln.Addr().String()
	urls, err := types.NewURLs([]string{"http://" + m.cfg.Advertise})
	if err != nil {
		_ = ln.Close()
		return nil, nil, err
	}
	m.id = membership.NewMember(name, urls, token, nil).ID
	return m, ln, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// spawnAll starts every member's process, each on ports of its own, then the links between them, and makes the
// backend's own client of each.
func (l *Local) spawnAll(ctx context.Context) error {
	l.mu.Lock()
	ms := append([]*member(nil), l.members...)
	peers := l.peers
	l.mu.Unlock()
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.startOnFreePorts(ctx, m)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var upstream []string
	var admin []*clientv3.Client
	for _, m := range ms {
		upstream = append(upstream, m.cfg.Peer)
		c, err := NewClient(m.cfg.Client, time.Second, nil)
		if err != nil {
			return err
		}
		admin = append(admin, c)
	}
	l.mu.Lock()
	l.admin = admin
	l.mu.Unlock()
	return peers.connect(upstream)
}

// startOnFreePorts starts member m on a client and a peer port drawn free, drawing again when another process
// took one of them before the member could (FreePort cannot hold a port for a child process).
func (l *Local) startOnFreePorts(ctx context.Context, m *member) error {
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		client, err := cluster.FreePort()
		if err != nil {
			return err
		}
		peer, err := cluster.FreePort()
		if err != nil {
			return err
		}
		if client == peer {
			continue
		}
		m.cfg.Client, m.cfg.Peer = loopback(client), loopback(peer)
		if last = l.spawn(m); last != nil {
			return last
		}
		if last = l.waitListening(ctx, m, 10*time.Second); last == nil {
			return nil
		}
		l.mu.Lock()
		p := m.proc
		l.mu.Unlock()
		p.Kill()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("start %s: %w", m.cfg.Name, last)
}

// spawn starts a member's process from this executable (or MemberExecutableEnv's), its stderr in its directory.
func (l *Local) spawn(m *member) error {
	exe := os.Getenv(MemberExecutableEnv)
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(m.cfg)
	if err != nil {
		return err
	}
	stderr, err := os.OpenFile(filepath.Join(m.cfg.Dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), MemberEnv+"="+string(raw))
	cmd.Stderr = stderr
	p, err := cluster.StartProc(cmd, nil)
	if err != nil {
		return fmt.Errorf("start %s: %w", m.cfg.Name, err)
	}
	l.mu.Lock()
	m.proc = p
	l.mu.Unlock()
	return nil
}

// status asks member i how it sees the cluster, over the backend's own connection to it.
func (l *Local) status(ctx context.Context, i int) (*pb.StatusResponse, error) {
	l.mu.Lock()
	if i < 0 || i >= len(l.admin) {
		l.mu.Unlock()
		return nil, fmt.Errorf("no member %d", i)
	}
	c := l.admin[i]
	l.mu.Unlock()
	return pb.NewMaintenanceClient(c.ActiveConnection()).Status(ctx, &pb.StatusRequest{})
}

// waitLeader waits until every member answers and all name the same leader, failing early when a member exits.
func (l *Local) waitLeader(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		leader, err := l.agreedLeader(ctx)
		if err == nil && leader != 0 {
			return nil
		}
		if err == nil {
			err = errors.New("no leader yet")
		}
		if dead := l.exited(); dead != nil {
			return fmt.Errorf("%s exited at start: %s", dead.cfg.Name, tail(dead.cfg))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the etcd members did not elect a leader within %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agreedLeader is the leader's ID when every member answers and all name it, 0 when they do not agree.
func (l *Local) agreedLeader(ctx context.Context) (uint64, error) {
	l.mu.Lock()
	n := len(l.admin)
	l.mu.Unlock()
	var leader uint64
	for i := range n {
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		st, err := l.status(sctx, i)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", cluster.NodeName(i), err)
		}
		if st.Leader == 0 || (leader != 0 && st.Leader != leader) {
			return 0, nil
		}
		leader = st.Leader
	}
	return leader, nil
}

// exited returns a member whose process has exited, or nil.
func (l *Local) exited() *member {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.members {
		if m.proc != nil && m.proc.Exited() {
			return m
		}
	}
	return nil
}

// tail is the end of a member's stderr and log, for an error message.
func tail(m memberConfig) string {
	var out []string
	for _, f := range []string{filepath.Join(m.Dir, "stderr.log"), m.logFile()} {
		b, _ := os.ReadFile(f)
		if len(b) > 600 {
			b = b[len(b)-600:]
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, " | ")
}
