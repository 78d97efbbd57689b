package harness_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// This file declares a whole system and its strategy, and nothing outside it names them, as EXTENDING.md's
// "Adding a system" says a system is: memlock, a lease server of a few lines per command, each node a listener in
// this process speaking a line protocol (ACQ key token ttl-ms, EXT key token ttl-ms, REL key token, PING). Its
// backend can pause a node (it stops answering; requests wait, as a SIGSTOPped process's do) and cannot crash
// one, so that a scenario asking for crash-restart is refused with the reason.

// memlockSystem is the system: its backend serves memlock nodes, its clients speak the protocol.
type memlockSystem struct{}

func (memlockSystem) Name() string       { return "memlock" }
func (memlockSystem) Summary() string    { return "an in-process lease server (tests only)" }
func (memlockSystem) Backends() []string { return []string{"local"} }

func (memlockSystem) NewBackend(name string) (cluster.Backend, error) {
	if name != "local" {
		return nil, fmt.Errorf("memlock has no backend %q (known: local)", name)
	}
	return &memlockBackend{}, nil
}

// memlockStrategy is the strategy interface of the system: New takes its typed clients.
type memlockStrategy interface {
	lock.Strategy
	New(nodes []*memlockClient, opt lock.Options) lock.Locker
}

func (memlockSystem) Takes(st lock.Strategy) bool {
	_, ok := st.(memlockStrategy)
	return ok
}

func (memlockSystem) Connect(cfg system.ConnectConfig) (system.Clients, error) {
	var cs memlockClients
	for _, a := range cfg.Addrs {
		cs = append(cs, &memlockClient{addr: a, dial: cfg.Dial})
	}
	return cs, nil
}

type memlockClients []*memlockClient

func (cs memlockClients) Locker(st lock.Strategy, opt lock.Options) (lock.Locker, error) {
	ms, ok := st.(memlockStrategy)
	if !ok {
		return nil, fmt.Errorf("%s is not a memlock strategy", st.Name())
	}
	return ms.New(cs, opt), nil
}

// memlockWarmDelay slows every worker's first ping (the set-up before the run), for the test of the run's clock.
var memlockWarmDelay atomic.Int64

func (cs memlockClients) Ping(ctx context.Context) error {
	time.Sleep(time.Duration(memlockWarmDelay.Load()))
	return system.PingAll(ctx, len(cs), func(ctx context.Context, i int) error {
		_, err := cs[i].do(ctx, "PING")
		return err
	})
}

func (cs memlockClients) Close() error {
	for _, c := range cs {
		c.close()
	}
	return nil
}

// memlockClient sends one request at a time on one connection; a request that outlives its context closes the
// connection (its reply may still come), and the next request dials again.
type memlockClient struct {
	addr string
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

func (c *memlockClient) do(ctx context.Context, req string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := c.dial(ctx, "tcp", c.addr)
		if err != nil {
			return "", err
		}
		c.conn, c.r = conn, bufio.NewReader(conn)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(dl)
	} else {
		_ = c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Now()) })
	defer stop()
	_, err := c.conn.Write([]byte(req + "\n"))
	var line string
	if err == nil {
		line, err = c.r.ReadString('\n')
	}
	if err != nil {
		_ = c.conn.Close()
		c.conn = nil
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func (c *memlockClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// memlockLease is a lease on node n1: a random token, acquired with a TTL; renewal and release compare the token.
type memlockLease struct {
	c          *memlockClient
	key, token string
	ttl        time.Duration
	now        func() time.Time
	validUntil time.Time
}

type memlockLock struct{}

func (memlockLock) Name() string { return "memlock-lease" }

func (memlockLock) New(nodes []*memlockClient, opt lock.Options) lock.Locker {
	return memlockLocker{c: nodes[0], opt: opt.WithDefaults()}
}

type memlockLocker struct {
	c   *memlockClient
	opt lock.Options
}

func (l memlockLocker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	token := strconv.FormatUint(l.opt.Rand.Uint64(), 36)
	start := l.opt.Now()
	reply, err := l.c.do(ctx, fmt.Sprintf("ACQ %s %s %d", key, token, l.opt.TTL.Milliseconds()))
	switch {
	case err != nil:
		return nil, err
	case reply == "HELD":
		return nil, lock.ErrNotAcquired
	case reply != "OK":
		return nil, fmt.Errorf("memlock: %s", reply)
	}
	return &memlockLease{c: l.c, key: key, token: token, ttl: l.opt.TTL, now: l.opt.Now, validUntil: start.Add(l.opt.TTL)}, nil
}

func (s *memlockLease) Fence() int64          { return 0 }
func (s *memlockLease) ValidUntil() time.Time { return s.validUntil }

func (s *memlockLease) Extend(ctx context.Context) error {
	start := s.now()
	return s.answer(ctx, fmt.Sprintf("EXT %s %s %d", s.key, s.token, s.ttl.Milliseconds()), func() { s.validUntil = start.Add(s.ttl) })
}

func (s *memlockLease) Release(ctx context.Context) error {
	return s.answer(ctx, fmt.Sprintf("REL %s %s", s.key, s.token), func() {})
}

func (s *memlockLease) answer(ctx context.Context, req string, ok func()) error {
	reply, err := s.c.do(ctx, req)
	switch {
	case err != nil:
		return err
	case reply == "GONE":
		return lock.ErrLockLost
	case reply != "OK":
		return fmt.Errorf("memlock: %s", reply)
	}
	ok()
	return nil
}

// memlockBackend serves the nodes from this process: one listener and one lease table per node.
type memlockBackend struct {
	nodes []*memlockNode
}

// memlockNode is one server. While paused, requests wait for the resume (delayed counts them).
type memlockNode struct {
	ln      net.Listener
	mu      sync.Mutex
	leases  map[string]memlockEntry
	paused  chan struct{} // closed when not paused
	delayed atomic.Int64
	conns   sync.WaitGroup
}

type memlockEntry struct {
	token   string
	expires time.Time
}

func (b *memlockBackend) Name() string { return "local" }

func (b *memlockBackend) Start(_ context.Context, spec cluster.Spec) ([]cluster.Node, error) {
	var out []cluster.Node
	for i := range spec.Nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		n := &memlockNode{ln: ln, leases: map[string]memlockEntry{}, paused: make(chan struct{})}
		close(n.paused)
		b.nodes = append(b.nodes, n)
		go n.serve()
		out = append(out, cluster.Node{Name: cluster.NodeName(i), Addr: ln.Addr().String()})
	}
	return out, nil
}

func (b *memlockBackend) Stop(context.Context) error {
	for _, n := range b.nodes {
		_ = n.ln.Close()
	}
	return nil
}

// Pause implements cluster.Pauser: the node stops answering until Resume.
func (b *memlockBackend) Pause(_ context.Context, i int) error {
	n := b.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paused = make(chan struct{})
	return nil
}

// Resume implements cluster.Pauser.
func (b *memlockBackend) Resume(_ context.Context, i int) error {
	n := b.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.paused:
	default:
		close(n.paused)
	}
	return nil
}

func (n *memlockNode) serve() {
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		go n.handle(c)
	}
}

func (n *memlockNode) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		n.mu.Lock()
		paused := n.paused
		n.mu.Unlock()
		select {
		case <-paused:
		default:
			n.delayed.Add(1)
			<-paused
		}
		if _, err := c.Write([]byte(n.apply(strings.Fields(line)) + "\n")); err != nil {
			return
		}
	}
}

func (n *memlockNode) apply(f []string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	ttl := func(s string) time.Duration { ms, _ := strconv.Atoi(s); return time.Duration(ms) * time.Millisecond }
	switch {
	case len(f) == 1 && f[0] == "PING":
		return "PONG"
	case len(f) == 4 && f[0] == "ACQ":
		if e, ok := n.leases[f[1]]; ok && now.Before(e.expires) {
			return "HELD"
		}
		n.leases[f[1]] = memlockEntry{token: f[2], expires: now.Add(ttl(f[3]))}
		return "OK"
	case len(f) == 4 && f[0] == "EXT", len(f) == 3 && f[0] == "REL":
		e, ok := n.leases[f[1]]
		if !ok || e.token != f[2] || !now.Before(e.expires) {
			return "GONE"
		}
		if f[0] == "REL" {
			delete(n.leases, f[1])
		} else {
			n.leases[f[1]] = memlockEntry{token: f[2], expires: now.Add(ttl(f[3]))}
		}
		return "OK"
	}
	return "ERR unknown request"
}

// lastMemlock is the backend of the last memlock run, for the test to look at its nodes afterwards.
var lastMemlock atomic.Pointer[memlockBackend]

// memlockTracking is the memlock system whose backends the test can find.
type memlockTracking struct{ memlockSystem }

func (s memlockTracking) NewBackend(name string) (cluster.Backend, error) {
	be, err := s.memlockSystem.NewBackend(name)
	if b, ok := be.(*memlockBackend); ok {
		lastMemlock.Store(b)
	}
	return be, err
}

func init() {
	system.Register(memlockTracking{})
	lock.Register(lock.Info{Name: "memlock-lease", System: "memlock", Summary: "a token lease on one memlock node (tests only)",
		Origin: "harness/ownsystem_test.go", Weakness: "one node", Make: func() lock.Strategy { return memlockLock{} }})
}

const memlockScenario = `description: a system declared in a test file, under a pause of its lock node and a fault kind declared in another
duration: 3s
groups: 2
workers: 3
ttl: 1s
hold: {min: 5ms, max: 20ms}
min_critical_sections: 20
faults:
  - kind: pause
    nodes: [n1]
    at: 1s
    for: 700ms
  - kind: noted
    nodes: [n2]
    note: a kind and a system, each from a test file
    at: 500ms
    for: 1s
`

func TestASystemDeclaredInATestFileRunsEndToEndUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	sc, err := scenarios.Parse("memlock", "memlock.yaml", []byte(memlockScenario))
	if err != nil {
		t.Fatal(err)
	}
	info, err := lock.Lookup("memlock-lease")
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: info.Make(), Seed: 1, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != checker.Valid {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Summary())
	}
	be := lastMemlock.Load()
	if be == nil || len(be.nodes) != 5 {
		t.Fatalf("the run did not start five memlock nodes: %+v", be)
	}
	if be.nodes[0].delayed.Load() == 0 {
		t.Errorf("no request waited for n1's resume: the pause did not reach the memlock node")
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	faults := map[string]int{}
	for _, e := range h.Events {
		if e.Ev == history.EvFault {
			faults[e.Name+" "+string(e.Phase)]++
		}
	}
	for _, want := range []string{"pause inject", "pause heal", "noted inject", "noted heal"} {
		if faults[want] != 1 {
			t.Errorf("history has %d %q events, want 1 (%v)", faults[want], want, faults)
		}
	}
	b, err := os.ReadFile(filepath.Join(res.Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		System string `json:"system"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.System != "memlock" {
		t.Fatalf("config.json records system %q (%v)", cfg.System, err)
	}
}

func TestAScenarioAskingASystemForAFaultItsBackendCannotDoIsRefusedAsNotApplicable(t *testing.T) {
	sc, err := scenarios.Parse("memlock-crash", "memlock-crash.yaml", []byte(`duration: 2s
faults:
  - kind: crash-restart
    nodes: [n1]
    at: 500ms
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: memlockLock{}, Seed: 1, OutDir: t.TempDir()})
	if !errors.Is(err, harness.ErrNotApplicable) || !errors.Is(err, harness.ErrSetup) || !strings.Contains(err.Error(), "cannot") {
		t.Fatalf("got %v; want a setup error that is not applicable, saying what the backend cannot do", err)
	}
}

func TestAFaultStrikesAtItsTimeFromTheWorkloadsStartHoweverLongTheSetUpTook(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	sc, err := scenarios.Parse("memlock-slow", "memlock-slow.yaml", []byte(`duration: 2s
groups: 1
workers: 2
hold: {min: 5ms, max: 20ms}
min_critical_sections: 1
faults:
  - kind: noted
    nodes: [n1]
    note: at 800ms
    at: 800ms
    for: 200ms
`))
	if err != nil {
		t.Fatal(err)
	}
	memlockWarmDelay.Store(int64(1500 * time.Millisecond))
	defer memlockWarmDelay.Store(0)
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: memlockLock{}, Seed: 1, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first, inject := int64(-1), int64(-1)
	for _, e := range h.Events {
		if first < 0 && e.Ev == history.EvInvoke {
			first = e.T
		}
		if e.Ev == history.EvFault && e.Phase == history.PhaseInject {
			inject = e.T
		}
	}
	if first < 0 || inject < 0 {
		t.Fatalf("no operation (%d) or no injection (%d) in the history", first, inject)
	}
	if first > int64(300*time.Millisecond) || inject-first < int64(700*time.Millisecond) {
		t.Fatalf("first operation at %s, fault injected at %s: want the fault 800ms after the workload's start, after a 1.5s set-up",
			time.Duration(first), time.Duration(inject))
	}
}
