package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// dockerBackend returns a docker backend, or skips the test when no Docker engine answers on this machine
// (fails it when REDLOCK_HARNESS_REQUIRE_DOCKER=1: CI has an engine, and a skipped test there proves nothing).
func dockerBackend(t *testing.T) *Docker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := dockerProvider(ctx, 15*time.Second)
	if err != nil {
		if errors.Is(err, ErrDockerUnavailable) && os.Getenv("REDLOCK_HARNESS_REQUIRE_DOCKER") != "1" {
			t.Skipf("no Docker engine: %v", err)
		}
		t.Fatal(err)
	}
	_ = p.Close()
	return &Docker{}
}

// startDocker starts the backend and removes its containers when the test ends, whatever happens.
func startDocker(t *testing.T, d *Docker, spec Spec) []Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	nodes, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// labelled lists the containers carrying label=value, running or not, as `docker ps -a` shows them (through the
// engine's API when the docker command is not installed).
func labelled(t *testing.T, d *Docker, label, value string) []string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err == nil {
		out, err := exec.Command("docker", "ps", "-a", "-q", "--no-trunc", "--filter", "label="+label+"="+value).Output()
		if err != nil {
			t.Fatalf("docker ps: %v", err)
		}
		ids := strings.Fields(string(out))
		sort.Strings(ids)
		return ids
	}
	if label != DockerLabelRun {
		t.Fatalf("no docker command to list %s", label)
	}
	ids, err := d.ContainerIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

func TestDockerBackendStartsAnsweringNodesAndStopsThemAll(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	run := d.RunID()
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 0 {
		t.Fatalf("containers of run %s before Start: %v", run, got)
	}
	ctx := context.Background()
	start := time.Now()
	nodes := startDocker(t, d, Spec{Nodes: 5, Persistence: "none"})
	t.Logf("5 nodes in %s (image %s, built now: %v)", time.Since(start).Round(time.Millisecond), d.Image(), d.ImageBuilt())
	if len(nodes) != 5 {
		t.Fatalf("got %d nodes", len(nodes))
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
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("%s at %s: %v", n.Name, n.Addr, err)
		}
		if v, err := c.ConfigGet(ctx, "appendonly").Result(); err != nil || v["appendonly"] != "no" {
			t.Errorf("%s: appendonly %v, %v", n.Name, v, err)
		}
		c.Close()
	}
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 10 {
		t.Fatalf("%d containers labelled with run %s, want 10 (a server and a network holder per node): %v", len(got), run, got)
	}
	if err := d.Pause(ctx, 2); err != nil { // a paused container must be removed too
		t.Fatal(err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 0 {
		t.Fatalf("containers left after Stop: %v", got)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestDockerBackendPauseQueuesCommandsUntilResume(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	nodes := startDocker(t, d, Spec{Nodes: 1})
	c := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := d.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.Set(tctx, "queued", "1", 0).Err()
	cancel()
	if err == nil {
		t.Fatal("a paused node answered")
	}
	if err := d.Resume(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	// The write sent while paused was executed when the node resumed.
	c2 := redis.NewClient(&redis.Options{Addr: nodes[0].Addr})
	defer c2.Close()
	if v, err := c2.Get(ctx, "queued").Result(); err != nil || v != "1" {
		t.Fatalf("the write queued during the pause: %q, %v", v, err)
	}
}

func TestDockerBackendKillLosesDataWithoutPersistenceAndRestartAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	nodes := startDocker(t, d, Spec{Nodes: 2, Persistence: "none"})
	c := redis.NewClient(&redis.Options{Addr: nodes[1].Addr, MaxRetries: -1})
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := d.Kill(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// A killed node refuses connections at once (its namespace lives on), as a local node's closed port does.
	start := time.Now()
	if conn, err := net.DialTimeout("tcp", nodes[1].Addr, 2*time.Second); err == nil {
		conn.Close()
		t.Error("a killed node accepted a connection")
	} else if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("connecting to a killed node failed only after %s: %v", took, err)
	}
	addr, err := d.Restart(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if addr != nodes[1].Addr {
		t.Errorf("n2 was at %s, restarted at %s: its network holder should have kept its address", nodes[1].Addr, addr)
	}
	c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("restarted node at %s: %v", addr, err)
	}
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("key survived a restart without persistence: %v", err)
	}
	if _, err := d.Restart(ctx, 1); err == nil {
		t.Error("Restart of a running node succeeded")
	}
}

func TestDockerBackendAOFAlwaysKeepsKeysAcrossKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	nodes := startDocker(t, d, Spec{Nodes: 1, Persistence: "aof-always"})
	c := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1})
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := d.Pause(ctx, 0); err != nil { // killing a paused node works as on local
		t.Fatal(err)
	}
	if err := d.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// Faults overlap: a pause drawn while the node is down has nothing to freeze, and the heal of the pause that
	// preceded the kill, or comes after the restart, has nothing to resume.
	if err := d.Pause(ctx, 0); !errors.Is(err, ErrNodeDown) {
		t.Fatalf("pause of a killed node: %v, want ErrNodeDown", err)
	}
	if err := d.Resume(ctx, 0); err != nil {
		t.Fatalf("resume of a node killed since its pause: %v", err)
	}
	addr, err := d.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Resume(ctx, 0); err != nil {
		t.Fatalf("resume of a node restarted since its pause: %v", err)
	}
	c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("key after a kill and restart with aof-always: %q, %v", v, err)
	}
	if ttl, err := c.PTTL(ctx, "k").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL after restart: %s, %v", ttl, err)
	}
}

func TestDockerImageHoldsRedisServerAndItsLibraries(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	spec, err := nodeImageSpec(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, f := range spec.files {
		paths[f.dst] = true
		if f.src != "" && strings.Contains(f.src, "redis-server") && f.dst != dockerRedisPath {
			t.Errorf("redis-server copied to %s", f.dst)
		}
	}
	if !paths[dockerRedisPath] || !paths["/etc/passwd"] {
		t.Errorf("missing files: %v", paths)
	}
	libs, err := sharedLibraries(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if !paths[l] {
			t.Errorf("library %s not in the image", l)
		}
	}
	a, err := spec.tag()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := spec.tag()
	if a != b || len(a) != 16 {
		t.Fatalf("tags %q, %q", a, b)
	}
}

func TestDockerNodesAreReachedAtTheirBridgeAddressOrAtTheirPublishedPortWhenAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	nodes := startDocker(t, d, Spec{Nodes: 1})
	n, _, err := d.node(0)
	if err != nil {
		t.Fatal(err)
	}
	if direct := n.ip + ":6379"; answers(ctx, direct) && nodes[0].Addr != direct {
		t.Errorf("the bridge address %s answers but the node is reached at %s", direct, nodes[0].Addr)
	}
	t.Logf("reached at %s (bridge address %s)", nodes[0].Addr, n.ip)

	p := &Docker{PublishedPorts: true}
	pnodes := startDocker(t, p, Spec{Nodes: 1})
	if !strings.HasPrefix(pnodes[0].Addr, "127.0.0.1:") {
		t.Fatalf("with PublishedPorts the node is reached at %s", pnodes[0].Addr)
	}
	if err := p.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	addr, err := p.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") || !answers(ctx, addr) {
		t.Fatalf("with PublishedPorts the restarted node is reached at %s", addr)
	}
}

func TestDockerFakeClockJumpExpiresAKeyOnThatNodeOnlyAndHealingPutsTheClockBack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	start := time.Now()
	nodes := startDocker(t, d, Spec{Nodes: 2, FakeClock: true})
	t.Logf("2 nodes under a fake clock in %s (image %s, built now: %v)", time.Since(start).Round(time.Millisecond), d.Image(), d.ImageBuilt())
	checkClockJump(t, d, nodes)
	if err := d.SetClockOffset(ctx, 0, 1500*time.Millisecond); err == nil {
		t.Fatal("a sub-second offset was accepted")
	}
}

func TestDockerCrashRestartedNodeComesBackAtItsAddressWithItsFakeClockOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	nodes := startDocker(t, d, Spec{Nodes: 1, FakeClock: true})
	if err := d.SetClockOffset(ctx, 0, 7*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	addr, err := d.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if addr != nodes[0].Addr {
		t.Errorf("restarted at %s, was at %s", addr, nodes[0].Addr)
	}
	if off := nodeClockAhead(t, addr); !near(off, 7*time.Second) {
		t.Fatalf("the restarted node is %s ahead, want 7s", off)
	}
	if err := d.SetClockOffset(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if off := nodeClockAhead(t, addr); !near(off, 0) {
		t.Fatalf("healed: %s", off)
	}
}

func TestDockerWithoutAFakeClockSetClockOffsetIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	startDocker(t, d, Spec{Nodes: 1})
	if err := d.SetClockOffset(context.Background(), 0, time.Second); err == nil {
		t.Fatal("accepted")
	}
	if _, err := d.Failover(context.Background(), 0); err == nil {
		t.Fatal("a node without a replica failed over")
	}
}

func TestDockerFailoverPromotesAReplicaThatLacksTheWritesMadeWhileReplicationStalled(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	run := d.RunID()
	start := time.Now()
	nodes := startDocker(t, d, Spec{Nodes: 1, Replicas: true})
	t.Logf("1 node and its replica in %s", time.Since(start).Round(time.Millisecond))
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 4 {
		t.Fatalf("a node with a replica runs %d containers, want 4 (a server and a network holder each)", len(got))
	}
	primary := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1})
	defer primary.Close()
	if err := primary.Set(ctx, "before", "replicated", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := primary.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not acknowledge: %d %v", n, err)
	}
	if err := d.StallReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := primary.Set(ctx, "lock", "acknowledged", 30*time.Second).Err(); err != nil {
		t.Fatalf("the primary did not acknowledge the write made during the stall: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // ample for replication over the bridge, had it not been stalled
	addr, err := d.Failover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if addr == nodes[0].Addr {
		t.Fatalf("the promoted replica is at %s (the primary was at %s)", addr, nodes[0].Addr)
	}
	// The old primary's container is dead (its bridge address may already serve the replacement replica).
	d.mu.Lock()
	old := d.retired[0].ctr
	d.mu.Unlock()
	if st, err := old.State(ctx); err != nil || st.Running {
		t.Fatalf("the old primary's container: %+v, %v", st, err)
	}
	promoted := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
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
	if _, err := d.ReplicaAddr(ctx, 0); err != nil {
		t.Fatal(err)
	}
	addr2, err := d.Failover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	again := redis.NewClient(&redis.Options{Addr: addr2, MaxRetries: -1})
	defer again.Close()
	if v, err := again.Get(ctx, "after").Result(); err != nil || v != "1" {
		t.Fatalf("a replicated write was lost in the second failover: %q %v", v, err)
	}
	if _, err := d.ReplicaAddr(ctx, 0); err != nil { // waits for the third replica
		t.Fatal(err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 0 {
		t.Fatalf("containers left after Stop: %v", got)
	}
}

func TestDockerReplicationResumesAfterAStallWithoutLosingWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	nodes := startDocker(t, d, Spec{Nodes: 1, Replicas: true, FakeClock: true})
	primary := redis.NewClient(&redis.Options{Addr: nodes[0].Addr, MaxRetries: -1})
	defer primary.Close()
	if err := d.StallReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := primary.Set(ctx, "during", "stall", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := d.ResumeReplication(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := primary.Do(ctx, "WAIT", 1, 15000).Int(); err != nil || n != 1 {
		t.Fatalf("the replica did not catch up: %d %v", n, err)
	}
	addr, err := d.Failover(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	promoted := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer promoted.Close()
	if v, err := promoted.Get(ctx, "during").Result(); err != nil || v != "stall" {
		t.Fatalf("the write made during the stall did not reach the resumed replica: %q %v", v, err)
	}
	// The promoted replica brings its own fake clock, which can be moved.
	if err := d.SetClockOffset(ctx, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if off := nodeClockAhead(t, addr); !near(off, 5*time.Second) {
		t.Fatalf("the promoted replica's clock is %s ahead, want 5s", off)
	}
}

func TestDockerStopDuringAReplacementReplicaStartLeavesNoContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	ctx := context.Background()
	run := d.RunID()
	startDocker(t, d, Spec{Nodes: 1, Replicas: true, FakeClock: true})
	if _, err := d.Failover(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// The replacement replica is still being started: the fake clock holds it up to a second.
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 0 {
		t.Fatalf("containers left after Stop: %v", got)
	}
}

func TestARemoteDockerEngineIsRefusedAndALocalOneAccepted(t *testing.T) {
	for _, h := range []string{"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "tcp://localhost:2376", "npipe:////./pipe/docker_engine"} {
		if err := localEngine(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	for _, h := range []string{"tcp://10.0.0.5:2375", "ssh://build@ci.example"} {
		if err := localEngine(h); err == nil || !strings.Contains(err.Error(), "DOCKER_HOST") {
			t.Errorf("%s accepted or without its fix: %v", h, err)
		}
	}
}

// TestDockerStartInAChildProcess is run in a child process by the test below, with DOCKER_HOST pointing nowhere: the
// engine's address is read once per process.
func TestDockerStartInAChildProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	if os.Getenv("REDLOCK_HARNESS_DOCKER_CHILD") != "1" {
		t.Skip("runs as a child process of TestAnUnreachableDockerEngineIsReportedWithItsFix")
	}
	d := &Docker{}
	_, err := d.Start(context.Background(), Spec{Nodes: 1})
	_ = d.Stop(context.Background())
	if !errors.Is(err, ErrDockerUnavailable) {
		t.Fatalf("not ErrDockerUnavailable: %v", err)
	}
	fmt.Println("START ERROR:", err)
}

func TestAnUnreachableDockerEngineIsReportedWithItsFix(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDockerStartInAChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "REDLOCK_HARNESS_DOCKER_CHILD=1", "DOCKER_HOST=unix:///nonexistent/docker.sock")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the error took %s", took)
	}
	if !strings.Contains(string(out), "START ERROR:") || !strings.Contains(string(out), DockerFix) {
		t.Fatalf("the error does not name the fix:\n%s", out)
	}
}
