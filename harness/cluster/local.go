package cluster

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
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// InstallCommand is what a user runs to get the redis-server binary the local backend needs.
const InstallCommand = "sudo apt-get install -y redis-server"

// ErrNoRedisServer means redis-server is not installed and could not be installed.
var ErrNoRedisServer = errors.New("redis-server not found")

// Local runs each node as a redis-server process on a free loopback port, in its own temporary directory, with
// no persistence unless asked. Processes get SIGKILL if the harness itself dies (Pdeathsig), so a crash of the
// harness leaves no server behind.
//
// With Spec.FakeClock every process runs under libfaketime with a follow file of its own (see FakeClock), and
// SetClockOffset moves a node's wall clock. With Spec.Replicas every node has an asynchronous replica, another
// redis-server started with --replicaof, which follows its primary through a Toxiproxy link of the backend's
// own: StallReplication cuts that link, so the replica falls behind while the primary keeps acknowledging
// writes, as a replica behind a congested or broken network does; Failover then kills the primary and promotes
// the replica, and whatever the replica had not received is lost.
type Local struct {
	// Binary is the redis-server to run; empty means look it up on PATH.
	Binary string
	// ExtraArgs are appended to every node's command line (e.g. "--appendonly", "yes").
	ExtraArgs []string

	persist []string           // the Spec's persistence arguments, set by each Start
	rates   map[string]float64 // the Spec's clock rates, by primary
	// LogDir, when set, keeps each node's log there instead of in the temporary directory.
	LogDir string

	mu      sync.Mutex
	nodes   []*localNode
	retired []*localNode // primaries a failover replaced: dead, kept until Stop removes their directories
	fake    *fakeTools   // libfaketime and its shim, with Spec.FakeClock
	repl    *netem.Net   // the replicas' links to their primaries, with Spec.Replicas
	stopped bool
	bg      sync.WaitGroup // replacement replicas being started after a failover
	bgCtx   context.Context
	bgStop  context.CancelFunc
}

type fakeTools struct{ lib, shim string }

// findFakeTools finds libfaketime and the shim (both provisioned by `make deps`), which every backend with a
// fake clock puts in front of redis-server.
func findFakeTools() (fakeTools, error) {
	lib, err := FindLibfaketime()
	if err != nil {
		return fakeTools{}, err
	}
	shim, err := FakeTimeShim()
	if err != nil {
		return fakeTools{}, err
	}
	return fakeTools{lib: lib, shim: shim}, nil
}

type localNode struct {
	name string
	port int
	dir  string
	proc *Proc // the process serving the node now; nil before its first start
	// follow is, for a replica, the address it replicates from (its link to the primary); empty for a primary.
	follow string
	// clock is the process's fake wall clock, nil without Spec.FakeClock.
	clock *FakeClock

	// With Spec.Replicas, on a primary: its replica (nil while a replacement starts after a failover), the link
	// the replica follows it through, and a channel closed once the replica is in place or failed to start.
	replica   *localNode
	replLink  *netem.Link
	replHeal  func() // lifts a replication stall, nil when none is in force
	replReady chan struct{}
	replErr   error
}

// Name implements Backend.
func (l *Local) Name() string { return "local" }

// sweepOnce sweeps what killed harnesses left once per process, at its first local start.
var sweepOnce sync.Once

// FindRedisServer locates redis-server, or returns an error carrying the install command: the harness installs
// nothing itself (`make deps` provisions the machine).
func FindRedisServer() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w on PATH: install it with `make deps` or `%s`", ErrNoRedisServer, InstallCommand)
}

// Start implements Backend. The nodes start in parallel; with Spec.Replicas it returns once every replica has
// completed its first synchronisation.
func (l *Local) Start(ctx context.Context, spec Spec) ([]Node, error) {
	if err := l.prepare(spec); err != nil {
		return nil, err
	}
	primaries, err := l.startPrimaries(ctx, spec.Nodes)
	if err == nil && spec.Replicas {
		err = l.startReplicas(ctx, primaries)
	}
	if err != nil {
		l.Stop(context.Background())
		return nil, err
	}
	out := make([]Node, 0, len(primaries))
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range primaries {
		out = append(out, Node{Name: p.name, Addr: p.addr()})
	}
	return out, nil
}

// prepare gets what every node needs before any starts: the persistence arguments, the sweep of what killed
// harnesses left (once per process), the redis-server binary, libfaketime with Spec.FakeClock, and a fresh
// background context for replacement replicas.
func (l *Local) prepare(spec Spec) error {
	l.persist, l.rates = nil, spec.ClockRates
	if spec.Persistence == "aof-always" {
		l.persist = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	sweepOnce.Do(func() {
		if gone := SweepStaleLocal(); len(gone) > 0 {
			fmt.Fprintf(os.Stderr, "local: removed %d node director(ies) a killed harness left\n", len(gone))
		}
	})
	if l.Binary == "" {
		p, err := FindRedisServer()
		if err != nil {
			return err
		}
		l.Binary = p
	}
	if spec.FakeClock {
		tools, err := findFakeTools()
		if err != nil {
			return err
		}
		l.fake = &tools
	}
	l.mu.Lock()
	l.stopped = false
	l.bgCtx, l.bgStop = context.WithCancel(context.Background())
	l.mu.Unlock()
	return nil
}

// startPrimaries makes the nodes n1…nN, registered for Stop as each is made, and starts them in parallel.
func (l *Local) startPrimaries(ctx context.Context, n int) ([]*localNode, error) {
	primaries := make([]*localNode, 0, n)
	for i := 0; i < n; i++ {
		node, err := l.newNode(NodeName(i), "")
		if err != nil {
			return nil, err
		}
		primaries = append(primaries, node)
		l.mu.Lock()
		l.nodes = append(l.nodes, node)
		l.mu.Unlock()
	}
	return primaries, l.startAll(ctx, primaries)
}

// startReplicas gives every primary a replica that follows it through a link of the backend's own Toxiproxy
// (which StallReplication cuts), starts them in parallel and waits for each to complete its first
// synchronisation.
func (l *Local) startReplicas(ctx context.Context, primaries []*localNode) error {
	repl, err := netem.New("")
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.repl = repl
	l.mu.Unlock()
	var replicas []*localNode
	for _, p := range primaries {
		link, err := repl.AddLink("replica", p.name, p.addr())
		if err != nil {
			return err
		}
		r, err := l.newNode(p.name+"-replica", link.Addr())
		if err != nil {
			return err
		}
		ready := make(chan struct{})
		close(ready)
		l.mu.Lock()
		p.replica, p.replLink, p.replReady = r, link, ready
		l.mu.Unlock()
		replicas = append(replicas, r)
	}
	if err := l.startAll(ctx, replicas); err != nil {
		return err
	}
	for _, r := range replicas {
		if err := waitSynced(ctx, r.addr()); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	return nil
}

// newNode makes a node's directory (and fake clock); follow is the address a replica replicates from.
func (l *Local) newNode(name, follow string) (*localNode, error) {
	dir, err := os.MkdirTemp("", "redlock-harness-"+name+"-")
	if err == nil {
		err = markOwned(dir)
	}
	if err != nil {
		return nil, err
	}
	node := &localNode{name: name, dir: dir, follow: follow}
	if l.fake != nil {
		if node.clock, err = NewFakeClock(filepath.Join(dir, "faketime")); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if follow == "" {
			node.clock.Rate = l.rates[name]
		}
	}
	return node, nil
}

// startAll starts the nodes in parallel (a fake clock holds each process up to a second at start).
func (l *Local) startAll(ctx context.Context, nodes []*localNode) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.startOnFreePort(ctx, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Local) startOnFreePort(ctx context.Context, n *localNode) error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			lastErr = err
			continue
		}
		l.mu.Lock()
		n.port = port
		l.mu.Unlock()
		if lastErr = l.startNode(ctx, n); lastErr == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("start %s: %w", n.name, lastErr)
}

func (n *localNode) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

func (l *Local) startNode(ctx context.Context, n *localNode) error {
	l.mu.Lock()
	port, dir, follow, clock := n.port, n.dir, n.follow, n.clock
	l.mu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(dir, "redis.log")
	if l.LogDir != "" {
		logFile = filepath.Join(l.LogDir, n.name+".log")
	}
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logFile, "--daemonize", "no",
		// A replica's full synchronisation starts at once instead of waiting 5s for other replicas to join it.
		"--repl-diskless-sync-delay", "0",
	}
	args = append(args, l.persist...)
	args = append(args, l.ExtraArgs...)
	if follow != "" {
		host, p, err := net.SplitHostPort(follow)
		if err != nil {
			return err
		}
		args = append(args, "--replicaof", host, p)
	}
	cmd := exec.Command(l.Binary, args...)
	if clock != nil {
		// The offset in force carries over to a restarted process.
		if err := clock.Prepare(); err != nil {
			return err
		}
		cmd.Env = append(os.Environ(), FakeTimeEnv(l.fake.lib, l.fake.shim, clock.File, clock.Rate)...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	proc, err := StartProc(cmd, nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	n.proc = proc
	l.mu.Unlock()
	err = waitReady(ctx, addr, proc.Done())
	if err == nil && clock != nil {
		err = clock.Calibrate(ctx, addr)
	}
	if err != nil {
		proc.Kill()
		logTail, _ := os.ReadFile(logFile)
		if len(logTail) > 600 {
			logTail = logTail[len(logTail)-600:]
		}
		return fmt.Errorf("%v (port %d): %s%s", err, port, stderr.String(), logTail)
	}
	return nil
}

// waitReady waits for redis-server at addr to answer PING (or to ask for a password), for up to 10 s per step.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	// Wait for the port first with plain dials: the client logs every failed dial, and a process under a fake
	// clock takes up to a second to listen.
	listening := func() error {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := Await(ctx, exited, 10*time.Second, "redis-server", listening); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	return Await(ctx, exited, 10*time.Second, "redis-server", func() error {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err := c.Ping(pctx).Err()
		if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") { // a server that asks for a password is up
			return nil
		}
		return err
	})
}

// waitSynced waits until the replica at addr has completed a synchronisation with its primary.
func waitSynced(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica did not synchronise with its primary within 15s: %v %q", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *Local) node(i int) (*localNode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= len(l.nodes) {
		return nil, fmt.Errorf("no node %d", i)
	}
	return l.nodes[i], nil
}

// proc returns node i and the process serving it now.
func (l *Local) proc(i int) (*localNode, *Proc, error) {
	n, err := l.node(i)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n.proc == nil {
		return nil, nil, fmt.Errorf("%s: %w", n.name, ErrNodeDown)
	}
	return n, n.proc, nil
}

// Pause implements Pauser with SIGSTOP.
func (l *Local) Pause(_ context.Context, i int) error {
	n, p, err := l.proc(i)
	if err != nil {
		return err
	}
	return p.Pause(n.name)
}

// Resume implements Pauser with SIGCONT. A process that has exited since its pause has nothing to resume; a
// restarted one was never paused, and SIGCONT leaves it as it is.
func (l *Local) Resume(_ context.Context, i int) error {
	_, p, err := l.proc(i)
	if err != nil {
		return err
	}
	return p.Resume()
}

// Kill implements Restarter with SIGKILL: no shutdown, no final save.
func (l *Local) Kill(_ context.Context, i int) error {
	_, p, err := l.proc(i)
	if err != nil {
		return err
	}
	p.Kill()
	return nil
}

// Restart implements Restarter: the node comes back on the same port and directory, with whatever its
// persistence settings kept, and under a fake clock the same offset from real time it had.
func (l *Local) Restart(ctx context.Context, i int) (string, error) {
	n, p, err := l.proc(i)
	if err != nil {
		return "", err
	}
	if !p.Exited() {
		return "", fmt.Errorf("%s is still running", n.name)
	}
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		if last = l.startNode(ctx, n); last == nil {
			l.mu.Lock()
			defer l.mu.Unlock()
			return n.addr(), nil
		}
		time.Sleep(100 * time.Millisecond) // the port may linger for a moment after the kill
	}
	return "", last
}

// SetClockOffset implements ClockSkewer: node i's wall clock reads real time + offset from now on (0 puts it
// back on real time). The offset must be a whole number of seconds. It needs Spec.FakeClock. The offset belongs
// to the process serving the node: it survives a crash-restart, but a failover brings the promoted replica's
// own clock.
func (l *Local) SetClockOffset(_ context.Context, i int, offset time.Duration) error {
	n, err := l.node(i)
	if err != nil {
		return err
	}
	l.mu.Lock()
	clock := n.clock
	l.mu.Unlock()
	if clock == nil {
		return fmt.Errorf("%s runs without a fake clock: start the backend with Spec.FakeClock", n.name)
	}
	return clock.SetOffset(offset)
}

// ClockOffset returns the offset in force on node i (0 without a fake clock).
func (l *Local) ClockOffset(i int) time.Duration {
	n, err := l.node(i)
	if err != nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n.clock == nil {
		return 0
	}
	return n.clock.Offset()
}

// ClockRate implements ClockRater: the rate node i's clock runs at, 1 when it keeps real time.
func (l *Local) ClockRate(i int) float64 {
	n, err := l.node(i)
	if err != nil {
		return 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return clockRate(n.clock)
}

// replLink returns node i's replication link, waiting for a replacement replica still being started.
func (l *Local) replLink(ctx context.Context, i int) (*localNode, *netem.Link, error) {
	n, err := l.node(i)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	ready := n.replReady
	l.mu.Unlock()
	if ready == nil {
		return nil, nil, fmt.Errorf("%s has no replica: start the backend with Spec.Replicas", n.name)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n.replica == nil {
		return nil, nil, fmt.Errorf("%s has no replica: %v", n.name, n.replErr)
	}
	return n, n.replLink, nil
}

// ReplicaAddr returns the address of node i's replica, waiting for a replacement replica still being started
// after a failover, so that a test can look at what the replica holds (as Docker.ReplicaAddr does).
func (l *Local) ReplicaAddr(ctx context.Context, i int) (string, error) {
	n, _, err := l.replLink(ctx, i)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n.replica == nil { // a failover took it meanwhile
		return "", fmt.Errorf("%s has no replica", n.name)
	}
	return n.replica.addr(), nil
}

// StallReplication cuts node i's replica off its primary (a blackhole on the link between them, both ways):
// the primary goes on acknowledging writes that the replica does not receive. Failover after a stall loses
// every write acknowledged since the stall began; ResumeReplication lets the replica catch up instead.
func (l *Local) StallReplication(ctx context.Context, i int) error {
	n, link, err := l.replLink(ctx, i)
	if err != nil {
		return err
	}
	heal := link.Apply(netem.Effect{Cut: netem.Drop})
	l.mu.Lock()
	if n.replHeal != nil {
		n.replHeal()
	}
	n.replHeal = heal
	l.mu.Unlock()
	return nil
}

// ResumeReplication reconnects node i's replica to its primary, which resynchronises it.
func (l *Local) ResumeReplication(ctx context.Context, i int) error {
	n, _, err := l.replLink(ctx, i)
	if err != nil {
		return err
	}
	l.removeStall(n)
	return nil
}

// removeStall lets node n's replication through again (a Drop's heal closes the connection that lost bytes, and
// the replica reconnects and resynchronises).
func (l *Local) removeStall(n *localNode) {
	l.mu.Lock()
	heal := n.replHeal
	n.replHeal = nil
	l.mu.Unlock()
	if heal != nil {
		heal()
	}
}

// Failover implements Failoverer, as Sentinel or a managed service would do it when a primary dies: node i's
// primary is killed with SIGKILL (whatever it had not yet sent its replica dies with it), its replica is
// promoted with REPLICAOF NO ONE and serves the node from then on, at the address returned. The caller repoints
// its clients. A new replica of the promoted node is started in the background, so that the node can fail over
// again; Failover waits for it when called before it is in place.
func (l *Local) Failover(ctx context.Context, i int) (string, error) {
	n, link, err := l.replLink(ctx, i)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	r, proc := n.replica, n.proc
	l.mu.Unlock()
	proc.Kill()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	err = c.Do(ctx, "REPLICAOF", "NO", "ONE").Err()
	c.Close()
	if err != nil {
		return "", fmt.Errorf("promote %s: %w", r.name, err)
	}
	l.mu.Lock()
	l.retired = append(l.retired, &localNode{name: n.name, dir: n.dir, proc: n.proc})
	n.port, n.dir, n.proc, n.clock = r.port, r.dir, r.proc, r.clock
	n.replica, n.replErr = nil, nil
	ready := make(chan struct{})
	n.replReady = ready
	addr := n.addr()
	stopped := l.stopped
	if !stopped {
		l.bg.Add(1)
	}
	bgCtx := l.bgCtx
	l.mu.Unlock()
	if stopped {
		close(ready)
		return addr, nil
	}
	go l.replaceReplica(bgCtx, n, link, addr, ready)
	return addr, nil
}

// replaceReplica starts a new replica of node n, following it at primary through link.
func (l *Local) replaceReplica(ctx context.Context, n *localNode, link *netem.Link, primary string, ready chan struct{}) {
	defer l.bg.Done()
	defer close(ready)
	l.removeStall(n)
	err := link.SetUpstream(primary)
	var r *localNode
	if err == nil {
		r, err = l.newNode(n.name+"-replica", link.Addr())
	}
	if err == nil {
		if err = l.startOnFreePort(ctx, r); err == nil {
			err = waitSynced(ctx, r.addr())
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && !l.stopped {
		n.replica = r
		return
	}
	if err == nil {
		err = errors.New("backend stopped")
	}
	n.replErr = err
	if r != nil {
		r.proc.Kill()
		_ = os.RemoveAll(r.dir)
	}
}

// PIDs returns the process ids of the running nodes and replicas, for tests that check nothing is left behind.
func (l *Local) PIDs() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, n := range l.all() {
		if n.proc != nil && !n.proc.Exited() {
			out = append(out, n.proc.PID())
		}
	}
	return out
}

// all lists every process record: nodes, their replicas and retired primaries. l.mu must be held.
func (l *Local) all() []*localNode {
	var out []*localNode
	for _, n := range l.nodes {
		out = append(out, n)
		if n.replica != nil {
			out = append(out, n.replica)
		}
	}
	return append(out, l.retired...)
}

// Stop implements Backend: every node and replica is killed and its directory removed.
func (l *Local) Stop(_ context.Context) error {
	l.mu.Lock()
	l.stopped = true
	if l.bgStop != nil {
		l.bgStop()
	}
	l.mu.Unlock()
	l.bg.Wait() // a replacement replica being started is killed or registered first
	l.mu.Lock()
	procs := l.all()
	repl := l.repl
	l.nodes, l.retired, l.repl = nil, nil, nil
	l.mu.Unlock()
	for _, n := range procs {
		n.proc.Kill()
	}
	if repl != nil {
		_ = repl.Close()
	}
	for _, n := range procs {
		if n.dir != "" {
			_ = os.RemoveAll(n.dir)
		}
	}
	return nil
}

// FreePort returns a free loopback TCP port below the kernel's ephemeral range (netem.FreePort): a killed node
// restarts on its port, and an ephemeral port could meanwhile have become some outgoing connection's own.
func FreePort() (int, error) { return netem.FreePort() }
