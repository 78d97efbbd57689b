package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// backendCase is one backend as the conformance suite drives it: how to make a fresh one, and how to see what it
// made, which differs with what a node is (a process, a container, a server of the user's).
type backendCase struct {
	// new returns a fresh backend, not started; what it needs besides (the External's servers) it stops when t
	// ends.
	new func(t *testing.T) Backend
	// track looks at what the started backend made for nodes. It returns the owner tags on it, by which the next
	// harness sweeps what a killed one left (none for a backend that marks nothing: keys on the user's servers),
	// and a func listing what of it is still there (processes, directories, containers, keys).
	track func(t *testing.T, b Backend, nodes []Node) (owners []string, left func() []string)
	// hooked says the node faults are commands of the user's (the External's hooks): a command that fails cannot
	// say the node was down, so Pause of a killed node is an error and not ErrNodeDown.
	hooked bool
}

// check is one thing every backend must do, or every backend that implements the interface it exercises.
type check struct {
	name string
	// long marks an integration check, left out of -short.
	long bool
	run  func(t *testing.T, bc backendCase, b Backend)
}

// checks are the conformance suite: what the harness relies on from any backend.
var checks = []check{
	{name: "starts the nodes asked for, n1 to nN, each answering at an address of its own", run: checkStart},
	{name: "marks what it makes with this process's owner tag, for the sweep after a killed harness", run: checkOwner},
	{name: "Stop removes everything it made, a paused node included, and a second Stop does nothing", run: checkStop},
	{name: "a paused node answers nothing until Resume, then executes what was sent meanwhile", run: checkPause},
	{name: "Pause of a killed node reports it down, and Resume after a kill or a restart succeeds", run: checkPauseOverlaps},
	{name: "a killed node refuses connections at once", run: checkKillRefuses},
	{name: "Restart brings a killed node back empty at its address and refuses a node still running", run: checkRestart},
	{name: "with aof-always persistence a killed node keeps its keys and their TTLs", run: checkAOF},
	{name: "refuses a spec it cannot give servers it does not run", run: checkSharedRefusals},
	{name: "a clock jump expires a key early on that node only, and healing puts the clock back", run: checkClockJump},
	{name: "without a fake clock, SetClockOffset is refused", run: checkNoFakeClock},
	{name: "a node given a clock rate runs its clock and its TTLs at that rate, and the others keep real time", run: checkClockRate},
	{name: "a crash-restarted node keeps its fake clock's offset", long: true, run: checkRestartKeepsClock},
	{name: "failover promotes a replica without the writes made while replication stalled, and again", long: true, run: checkFailover},
	{name: "replication resumes after a stall without losing writes, and the promoted replica's clock moves", long: true, run: checkReplicationResumes},
	{name: "without replicas, Failover is refused", run: checkNoReplica},
	{name: "Stop during a replacement replica's start leaves nothing behind", long: true, run: checkStopDuringReplacement},
}

// conformance runs every check against fresh backends of bc, one subtest each; a check of an interface the
// backend does not implement is skipped, saying so.
func conformance(t *testing.T, bc backendCase) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.long && testing.Short() {
				t.Skip("integration check: not in -short")
			}
			c.run(t, bc, bc.new(t))
		})
	}
}

// replicationStaller is what the failover fault needs besides Failoverer to make a failover lose writes.
type replicationStaller interface {
	StallReplication(ctx context.Context, node int) error
	ResumeReplication(ctx context.Context, node int) error
}

// replicaAddresser waits for a node's replica, a replacement one included, and says where it is.
type replicaAddresser interface {
	ReplicaAddr(ctx context.Context, node int) (string, error)
}

// capability returns b as a T, or skips the check: the backend does not promise what it exercises.
func capability[T any](t *testing.T, b Backend) T {
	t.Helper()
	c, ok := b.(T)
	if !ok {
		t.Skipf("the %s backend is not a %s", b.Name(), reflect.TypeFor[T]().Name())
	}
	return c
}

// shared says the backend runs on servers it shares with others (KeyPrefixer): it starts nothing, so it can
// neither configure them nor remove them, only its keys.
func shared(b Backend) bool {
	_, ok := b.(KeyPrefixer)
	return ok
}

// key names a key of the test's on b's servers: under the run's prefix where the servers are shared.
func key(b Backend, name string) string {
	if p, ok := b.(KeyPrefixer); ok {
		return p.KeyPrefix() + name
	}
	return name
}

// clientFor is a client of the node at addr with b's credentials, that does not retry and gives up at its
// context's deadline.
func clientFor(b Backend, addr string) *redis.Client {
	o := &redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true}
	if co, ok := b.(ClientOptioner); ok {
		opts := co.ClientOptions()
		o.Username, o.Password, o.TLSConfig = opts.Username, opts.Password, opts.TLS
	}
	return redis.NewClient(o)
}

// start starts b for spec, failing the test when it cannot, and stops it when the test ends, whatever happens.
func start(t *testing.T, b Backend, spec Spec) []Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { _ = b.Stop(context.Background()) })
	nodes, err := b.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func checkStart(t *testing.T, _ backendCase, b Backend) {
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 3})
	if len(nodes) != 3 {
		t.Fatalf("got %d nodes, want 3", len(nodes))
	}
	seen := map[string]bool{}
	for i, n := range nodes {
		if n.Name != NodeName(i) {
			t.Errorf("node %d is named %s", i, n.Name)
		}
		if seen[n.Addr] {
			t.Errorf("%s: address %s shared", n.Name, n.Addr)
		}
		seen[n.Addr] = true
		c := clientFor(b, n.Addr)
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("%s at %s: %v", n.Name, n.Addr, err)
		}
		c.Close()
	}
}

func checkOwner(t *testing.T, bc backendCase, b Backend) {
	nodes := start(t, b, Spec{Nodes: 2, FakeClock: !shared(b)})
	owners, _ := bc.track(t, b, nodes)
	if len(owners) == 0 {
		t.Skipf("the %s backend makes nothing it could mark", b.Name())
	}
	for _, o := range owners {
		if o != OwnerTag() {
			t.Errorf("owner %q, want this process's %q", o, OwnerTag())
		}
	}
}

func checkStop(t *testing.T, bc backendCase, b Backend) {
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 3})
	for _, n := range nodes {
		c := clientFor(b, n.Addr)
		if err := c.Set(ctx, key(b, "stop"), "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	_, left := bc.track(t, b, nodes)
	if got := left(); len(got) < len(nodes) {
		t.Fatalf("what the backend made is not found: %v", got)
	}
	if p, ok := b.(Pauser); ok && !shared(b) {
		if err := p.Pause(ctx, 1); err != nil { // a paused node must be removed too
			t.Fatal(err)
		}
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 0 {
		t.Fatalf("left after Stop: %v", got)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func checkPause(t *testing.T, _ backendCase, b Backend) {
	p := capability[Pauser](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 1})
	c := clientFor(b, nodes[0].Addr)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Set(tctx, key(b, "queued"), "1", 0).Err()
	cancel()
	if err == nil {
		t.Fatal("a paused node answered")
	}
	if err := p.Resume(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if v, err := c.Get(ctx, key(b, "queued")).Result(); err != nil || v != "1" {
		t.Fatalf("the write sent during the pause: %q, %v", v, err)
	}
}

func checkPauseOverlaps(t *testing.T, bc backendCase, b Backend) {
	if bc.hooked {
		t.Skip("the node faults are the user's commands: a command that fails cannot say the node was down")
	}
	p := capability[Pauser](t, b)
	r := capability[Restarter](t, b)
	ctx := context.Background()
	start(t, b, Spec{Nodes: 1})
	if err := p.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(ctx, 0); err != nil {
		t.Fatalf("kill of a paused node: %v", err)
	}
	if err := p.Pause(ctx, 0); !errors.Is(err, ErrNodeDown) {
		t.Fatalf("pause of a killed node: %v, want ErrNodeDown", err)
	}
	if err := p.Resume(ctx, 0); err != nil {
		t.Fatalf("resume of a node killed since its pause: %v", err)
	}
	addr, err := r.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(ctx, 0); err != nil {
		t.Fatalf("resume of a node restarted since its pause: %v", err)
	}
	c := clientFor(b, addr)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the restarted node: %v", err)
	}
}

func checkKillRefuses(t *testing.T, _ backendCase, b Backend) {
	r := capability[Restarter](t, b)
	nodes := start(t, b, Spec{Nodes: 2})
	if err := r.Kill(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if conn, err := net.DialTimeout("tcp", nodes[1].Addr, 2*time.Second); err == nil {
		conn.Close()
		t.Fatal("a killed node accepted a connection")
	} else if took := time.Since(began); took > 500*time.Millisecond {
		t.Fatalf("connecting to a killed node failed only after %s: %v", took, err)
	}
}

func checkRestart(t *testing.T, _ backendCase, b Backend) {
	r := capability[Restarter](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 2, Persistence: "none"})
	c := clientFor(b, nodes[1].Addr)
	defer c.Close()
	if err := c.Set(ctx, key(b, "k"), "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(ctx, 1); err != nil {
		t.Fatal(err)
	}
	addr, err := r.Restart(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if addr != nodes[1].Addr {
		t.Fatalf("n2 was at %s, restarted at %s", nodes[1].Addr, addr)
	}
	if err := c.Get(ctx, key(b, "k")).Err(); err != redis.Nil {
		t.Fatalf("a key survived a restart without persistence: %v", err)
	}
	if _, err := r.Restart(ctx, 1); err == nil {
		t.Fatal("Restart of a running node succeeded")
	}
}

func checkAOF(t *testing.T, _ backendCase, b Backend) {
	if shared(b) {
		t.Skip("servers the backend does not run keep their own persistence")
	}
	r := capability[Restarter](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 1, Persistence: "aof-always"})
	c := clientFor(b, nodes[0].Addr)
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := r.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	addr, err := r.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c = clientFor(b, addr)
	defer c.Close()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("key after a kill and restart with aof-always: %q, %v", v, err)
	}
	if ttl, err := c.PTTL(ctx, "k").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL after restart: %s, %v", ttl, err)
	}
}

func checkSharedRefusals(t *testing.T, _ backendCase, b Backend) {
	if !shared(b) {
		t.Skip("the backend runs its own servers: it gives them what the spec asks")
	}
	for _, spec := range []Spec{{Nodes: 1, Replicas: true}, {Nodes: 1, FakeClock: true}, {Nodes: 1, Persistence: "aof-always"}, {Nodes: 99}} {
		if _, err := b.Start(context.Background(), spec); err == nil {
			t.Errorf("%+v accepted", spec)
			_ = b.Stop(context.Background())
		}
	}
}

// nodeClockAhead returns how far the node's wall clock (TIME) is ahead of real time.
func nodeClockAhead(t *testing.T, addr string) time.Duration {
	t.Helper()
	d, _, err := nodeTimeMinusReal(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(d, want time.Duration) bool { return (d - want).Abs() < 250*time.Millisecond }

// checkClockJump holds a backend's fake clock to what the clock faults need, on two nodes: both start on real
// time; a 40 s jump on n1 expires there a key that had 30 s to live, and only there; healing puts n1 back on real
// time, where a fresh key gets its full TTL. A sub-second offset is refused.
func checkClockJump(t *testing.T, _ backendCase, b Backend) {
	s := capability[ClockSkewer](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 2, FakeClock: true})
	for _, n := range nodes {
		if d := nodeClockAhead(t, n.Addr); !near(d, 0) {
			t.Fatalf("%s starts %s off real time", n.Name, d)
		}
	}
	c1, c2 := clientFor(b, nodes[0].Addr), clientFor(b, nodes[1].Addr)
	defer c1.Close()
	defer c2.Close()
	for _, c := range []*redis.Client{c1, c2} {
		if err := c.Set(ctx, "lock", "holder", 30*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetClockOffset(ctx, 0, 40*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 40*time.Second) {
		t.Fatalf("after a +40s jump n1 is %s ahead", d)
	}
	if n, err := c1.Exists(ctx, "lock").Result(); err != nil || n != 0 {
		t.Fatalf("a key with 30s to live survived a 40s jump: exists=%d %v", n, err)
	}
	if ttl, err := c2.PTTL(ctx, "lock").Result(); err != nil || ttl < 25*time.Second {
		t.Fatalf("the jump reached the other node: pttl %s %v", ttl, err)
	}
	if d := nodeClockAhead(t, nodes[1].Addr); !near(d, 0) {
		t.Fatalf("n2 moved: %s", d)
	}
	if err := s.SetClockOffset(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, nodes[0].Addr); !near(d, 0) {
		t.Fatalf("after healing n1 is %s off real time", d)
	}
	if err := c1.Set(ctx, "lock", "holder", 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c1.PTTL(ctx, "lock").Result(); err != nil || ttl < 29*time.Second {
		t.Fatalf("a fresh key on the healed node: pttl %s %v", ttl, err)
	}
	if err := s.SetClockOffset(ctx, 0, 1500*time.Millisecond); err == nil {
		t.Fatal("a sub-second offset was accepted")
	}
}

// checkClockRate starts n1 at twice real time's rate and n2 on real time: over a second n1's clock gains about
// a second, and a key with a 1 s TTL lives about half a second on n1 and its full second on n2.
func checkClockRate(t *testing.T, _ backendCase, b Backend) {
	r := capability[ClockRater](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 2, FakeClock: true, ClockRates: map[string]float64{"n1": 2}})
	if got := []float64{r.ClockRate(0), r.ClockRate(1)}; got[0] != 2 || got[1] != 1 {
		t.Fatalf("ClockRate reports %v, want [2 1]", got)
	}
	c1, c2 := clientFor(b, nodes[0].Addr), clientFor(b, nodes[1].Addr)
	defer c1.Close()
	defer c2.Close()
	before := nodeClockAhead(t, nodes[0].Addr)
	for _, c := range []*redis.Client{c1, c2} {
		if err := c.Set(ctx, "lock", "holder", time.Second).Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(700 * time.Millisecond)
	if n, err := c1.Exists(ctx, "lock").Result(); err != nil || n != 0 {
		t.Fatalf("a 1s key on a node at x2 lived 0.7s: exists=%d %v", n, err)
	}
	if n, err := c2.Exists(ctx, "lock").Result(); err != nil || n != 1 {
		t.Fatalf("a 1s key on a node on real time died within 0.7s: exists=%d %v", n, err)
	}
	time.Sleep(300 * time.Millisecond)
	if gained := nodeClockAhead(t, nodes[0].Addr) - before; !near(gained, time.Second) {
		t.Fatalf("over 1s a clock at x2 gained %s", gained)
	}
	if d := nodeClockAhead(t, nodes[1].Addr); !near(d, 0) {
		t.Fatalf("n2 moved: %s", d)
	}
}

func checkNoFakeClock(t *testing.T, _ backendCase, b Backend) {
	s := capability[ClockSkewer](t, b)
	start(t, b, Spec{Nodes: 1})
	if err := s.SetClockOffset(context.Background(), 0, time.Second); err == nil {
		t.Fatal("accepted")
	}
}

func checkRestartKeepsClock(t *testing.T, _ backendCase, b Backend) {
	s := capability[ClockSkewer](t, b)
	r := capability[Restarter](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 1, FakeClock: true})
	if err := s.SetClockOffset(ctx, 0, 7*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	addr, err := r.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if addr != nodes[0].Addr {
		t.Fatalf("restarted at %s, was at %s", addr, nodes[0].Addr)
	}
	if d := nodeClockAhead(t, addr); !near(d, 7*time.Second) {
		t.Fatalf("the restarted node is %s ahead, want 7s", d)
	}
	time.Sleep(1200 * time.Millisecond) // the fake clock runs at the real rate
	if d := nodeClockAhead(t, addr); !near(d, 7*time.Second) {
		t.Fatalf("a second later the restarted node is %s ahead, want 7s", d)
	}
	if err := s.SetClockOffset(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d := nodeClockAhead(t, addr); !near(d, 0) {
		t.Fatalf("healed: %s", d)
	}
}

// checkFailover stalls replication, fails over (the promoted replica lacks the write acknowledged during the
// stall), fails over again once a new replica is in place (nothing lost this time), and checks that Stop then
// leaves nothing of the three servers.
func checkFailover(t *testing.T, bc backendCase, b Backend) {
	f := capability[Failoverer](t, b)
	st := capability[replicationStaller](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 1, Replicas: true})
	primary := clientFor(b, nodes[0].Addr)
	defer primary.Close()
	if err := primary.Set(ctx, "before", "replicated", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := primary.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not acknowledge: %d %v", n, err)
	}
	if err := st.StallReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := primary.Set(ctx, "lock", "acknowledged", 30*time.Second).Err(); err != nil {
		t.Fatalf("the primary did not acknowledge the write made during the stall: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // ample for replication, had it not been stalled
	addr := failoverTo(t, b, f, nodes[0].Addr)
	promoted := clientFor(b, addr)
	defer promoted.Close()
	if v, err := promoted.Get(ctx, "before").Result(); err != nil || v != "replicated" {
		t.Fatalf("the promoted replica lacks a replicated write: %q %v", v, err)
	}
	if err := promoted.Get(ctx, "lock").Err(); err != redis.Nil {
		t.Fatalf("the promoted replica has the write the primary acknowledged during the stall: %v", err)
	}
	if err := promoted.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Fatalf("the promoted replica does not take writes: %v", err)
	}
	// A new replica follows the promoted node, so it can fail over again, this time with replication flowing.
	if n, err := promoted.Do(ctx, "WAIT", 1, 15000).Int(); err != nil || n != 1 {
		t.Fatalf("no new replica acknowledged: %d %v", n, err)
	}
	waitReplica(t, b)
	again := clientFor(b, failoverTo(t, b, f, addr))
	defer again.Close()
	if v, err := again.Get(ctx, "after").Result(); err != nil || v != "1" {
		t.Fatalf("a replicated write was lost in the second failover: %q %v", v, err)
	}
	waitReplica(t, b) // the third
	_, left := bc.track(t, b, nodes)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 0 {
		t.Fatalf("left after Stop: %v", got)
	}
}

// failoverTo fails n1 over from the primary at old and returns the promoted replica's address, checking that
// nothing at the old address takes a write any more.
func failoverTo(t *testing.T, b Backend, f Failoverer, old string) string {
	t.Helper()
	addr, err := f.Failover(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if addr == old {
		t.Fatalf("the promoted replica is at the primary's address %s", old)
	}
	c := clientFor(b, old)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Set(ctx, "stale", "1", 0).Err(); err == nil {
		t.Fatalf("the old primary's address %s still takes writes", old)
	}
	return addr
}

// waitReplica waits until n1's replica, a replacement one included, is in place.
func waitReplica(t *testing.T, b Backend) {
	t.Helper()
	ra := capability[replicaAddresser](t, b)
	if _, err := ra.ReplicaAddr(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func checkReplicationResumes(t *testing.T, _ backendCase, b Backend) {
	f := capability[Failoverer](t, b)
	st := capability[replicationStaller](t, b)
	s := capability[ClockSkewer](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 1, Replicas: true, FakeClock: true})
	primary := clientFor(b, nodes[0].Addr)
	defer primary.Close()
	if err := st.StallReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := primary.Set(ctx, "during", "stall", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.ResumeReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := primary.Do(ctx, "WAIT", 1, 15000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not catch up: %d %v", n, err)
	}
	addr, err := f.Failover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	promoted := clientFor(b, addr)
	defer promoted.Close()
	if v, err := promoted.Get(ctx, "during").Result(); err != nil || v != "stall" {
		t.Fatalf("the write made during the stall did not reach the resumed replica: %q %v", v, err)
	}
	// The promoted replica brings its own fake clock, which can be moved.
	if err := s.SetClockOffset(ctx, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if off := nodeClockAhead(t, addr); !near(off, 5*time.Second) {
		t.Fatalf("the promoted replica's clock is %s ahead, want 5s", off)
	}
}

func checkNoReplica(t *testing.T, _ backendCase, b Backend) {
	f := capability[Failoverer](t, b)
	start(t, b, Spec{Nodes: 1})
	if _, err := f.Failover(context.Background(), 0); err == nil {
		t.Fatal("a node without a replica failed over")
	}
}

func checkStopDuringReplacement(t *testing.T, bc backendCase, b Backend) {
	f := capability[Failoverer](t, b)
	ctx := context.Background()
	nodes := start(t, b, Spec{Nodes: 2, Replicas: true, FakeClock: true})
	_, left := bc.track(t, b, nodes)
	if _, err := f.Failover(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The replacement replica is still being started: the fake clock holds it up to a second.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 0 {
		t.Fatalf("left after Stop: %v", got)
	}
}

// ownerOfDir returns the owner tag written in a directory the backends made ("" when it has none).
func ownerOfDir(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, ownerFile))
	return strings.TrimSpace(string(b))
}

// existing returns the directories of dirs that still exist.
func existing(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// redisChildren lists the live redis-server child processes of the test binary: every server the local backend
// starts is one, so what it lost track of shows here too.
func redisChildren() []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(redis-server") {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 && fields[0] != "Z" && fields[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, s[:i+1])
		}
	}
	return out
}
