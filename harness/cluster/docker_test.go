package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
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

func TestTheDockerBackendConforms(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	dockerBackend(t)
	conformance(t, backendCase{new: func(*testing.T) Backend { return &Docker{} }, track: trackDocker})
}

// trackDocker sees the docker backend's containers, by their run label, and its follow files' directory: each
// carries the owner tag, and what is left is any of them still there.
func trackDocker(t *testing.T, b Backend, _ []Node) ([]string, func() []string) {
	d := b.(*Docker)
	run := d.RunID()
	d.mu.Lock()
	p, clockDir := d.provider, d.clockDir
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Client().ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", DockerLabelRun+"="+run),
	})
	if err != nil {
		t.Fatal(err)
	}
	var owners []string
	for _, c := range res.Items {
		owners = append(owners, c.Labels[dockerLabelOwner])
	}
	if clockDir != "" {
		owners = append(owners, ownerOfDir(clockDir))
	}
	return owners, func() []string {
		return append(labelled(t, d, DockerLabelRun, run), existing([]string{clockDir})...)
	}
}

func TestEveryDockerNodeIsAServerAndANetworkHolderUnderItsRunsLabel(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	d := dockerBackend(t)
	run := d.RunID()
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 0 {
		t.Fatalf("containers of run %s before Start: %v", run, got)
	}
	began := time.Now()
	start(t, d, Spec{Nodes: 2})
	t.Logf("2 nodes in %s (image %s, built now: %v)", time.Since(began).Round(time.Millisecond), d.Image(), d.ImageBuilt())
	if got := labelled(t, d, DockerLabelRun, run); len(got) != 4 {
		t.Fatalf("%d containers labelled with run %s, want 4 (a server and a network holder per node): %v", len(got), run, got)
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
	nodes := start(t, d, Spec{Nodes: 1})
	n, _, err := d.node(0)
	if err != nil {
		t.Fatal(err)
	}
	if direct := n.ip + ":6379"; answers(ctx, direct) && nodes[0].Addr != direct {
		t.Errorf("the bridge address %s answers but the node is reached at %s", direct, nodes[0].Addr)
	}
	t.Logf("reached at %s (bridge address %s)", nodes[0].Addr, n.ip)

	p := &Docker{PublishedPorts: true}
	pnodes := start(t, p, Spec{Nodes: 1})
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
