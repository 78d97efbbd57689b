package cluster

import (
	"context"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// dockerBackend returns a docker backend, or skips the test when no Docker engine answers on this machine.
func dockerBackend(t *testing.T) *Docker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := dockerProvider(ctx, 15*time.Second)
	if err != nil {
		if errors.Is(err, ErrDockerUnavailable) {
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
		if !strings.HasPrefix(n.Addr, "127.0.0.1:") || seen[n.Addr] {
			t.Errorf("%s: address %s (not on loopback, or shared)", n.Name, n.Addr)
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
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 5 {
		t.Fatalf("%d containers labelled with run %s, want 5: %v", len(got), run, got)
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
	dead := redis.NewClient(&redis.Options{Addr: nodes[1].Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	if err := dead.Ping(tctx).Err(); err == nil {
		t.Error("a killed node answered")
	}
	cancel()
	dead.Close()
	addr, err := d.Restart(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n2 was at %s, restarted at %s", nodes[1].Addr, addr)
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
	addr, err := d.Restart(ctx, 0)
	if err != nil {
		t.Fatal(err)
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
