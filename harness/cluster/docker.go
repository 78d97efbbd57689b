package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// ErrDockerUnavailable means the Docker engine could not be reached, so that callers (and tests) can tell a
// machine without an engine from a failure of the backend itself.
var ErrDockerUnavailable = errors.New("docker engine not reachable")

// DockerFix is what a user does when the Docker engine is not reachable; every ErrDockerUnavailable carries it,
// so the message the user sees says how to get going.
const DockerFix = "start the Docker daemon (sudo systemctl start docker) and check that /var/run/docker.sock exists " +
	"and that you may use it (member of the docker group), or point DOCKER_HOST at a running engine on this machine; " +
	"or run with --backend local"

// Labels on everything the docker backend creates: DockerLabelBackend on every container (value "docker"), so
// that a person or a test can list what the harness runs (docker ps -a --filter label=…); DockerLabelRun with
// the backend instance's own id, so that it removes exactly the containers it created.
const (
	DockerLabelBackend = "org.redlock-harness.backend"
	DockerLabelRun     = "org.redlock-harness.run"
	dockerLabelNode    = "org.redlock-harness.node"
	dockerLabelRole    = "org.redlock-harness.role" // "redis" (the server) or "net" (its network holder)
	dockerLabelImage   = "org.redlock-harness.image"
)

const redisPort = "6379/tcp"

// stopCallTimeout bounds each call Stop makes to the engine (a removal, a listing): Stop runs on the way out of
// every run, Ctrl-C included, and must end even when the engine is slow; what it could not remove in time carries
// its owner's label, and the next run's sweep removes it.
const stopCallTimeout = 20 * time.Second

// Docker runs each node as a container of an image built offline from the host's redis-server (see
// docker_image.go), through testcontainers-go. A node is two containers: a network holder, which owns the node's
// network namespace (its address on the engine's bridge network, and its port published on 127.0.0.1 only) for
// the node's whole life, and the redis-server's container inside that namespace, which faults kill and start
// again. The engine must be local; a node is ready when PING answers on its published port.
//
// The harness then reaches each node at its bridge address when that address answers from this process (a Linux
// host running its own engine), and at the published port otherwise (or always, with PublishedPorts). A
// published port is served by the engine's userland proxy, one more process on every connection's path: on a
// busy two-core machine it made a new connection cost more than the 50ms a Redlock client gives each node with a
// 1s TTL, so that 24 workers reconnecting after their timeouts kept each other from ever acquiring; straight to
// the bridge address, latency is the local backend's.
//
// Pause and Resume pause and unpause the server's container (the cgroup freezer: the process stops, its
// connections stay open). Kill sends it SIGKILL; Restart starts the same container again: its filesystem, and so
// an append-only file written with Spec.Persistence "aof-always", survives, and since the holder kept the
// namespace, it comes back at the same address, as a local node comes back on the same port. While it is down,
// connections to it are refused at once.
//
// With Spec.FakeClock the image also holds libfaketime and its shim (see faketime.go), every redis-server runs
// under them, and its follow file lives in a host directory bind-mounted into the container: SetClockOffset
// changes the file's mtime on the host, exactly as the local backend does.
//
// With Spec.Replicas every node has a replica (a holder and a server of its own) that follows its primary's
// bridge address. StallReplication points the replica at an address where no primary answers, so it keeps what
// it had while the primary goes on acknowledging writes; Failover then kills the primary and promotes the
// replica, whose address it returns, and starts a new replica of it in the background.
//
// Testcontainers' reaper (Ryuk) is disabled, since its image cannot be pulled without a registry: Stop removes
// every container the backend created, found by its labels, on every path (a failed or interrupted Start
// included); only a harness killed outright leaves its containers, which DockerLabelBackend finds. Every call to
// the engine has a deadline, and an operation on a running node, once begun, is finished even when the caller's
// context ends meanwhile (see op).
type Docker struct {
	// Binary is the redis-server copied into the image; empty means look it up on PATH.
	Binary string
	// CallTimeout bounds each call to the engine (default 60s); the image build gets five times as long.
	CallTimeout time.Duration
	// PublishedPorts makes the harness reach every node at its published port on 127.0.0.1, even where its
	// bridge address answers: slower (see above), but the way any other program on the host reaches it.
	PublishedPorts bool

	mu       sync.Mutex
	id       string // this instance's DockerLabelRun value
	provider *testcontainers.DockerProvider
	image    string
	built    bool
	args     []string           // redis-server's arguments, the same on every node and replica
	fake     bool               // the nodes run under libfaketime
	rates    map[string]float64 // the Spec's clock rates, by primary
	clockDir string             // host directory of the follow files, with Spec.FakeClock
	nodes    []*dockerNode
	retired  []*dockerNode  // primaries a failover replaced: dead, removed by Stop
	replicas map[string]int // replica containers started per node, to name them
	dirty    bool           // a start failed or was interrupted: containers may exist that nodes does not know of
	stopped  bool
	bg       sync.WaitGroup // replacement replicas being started after a failover
	bgCtx    context.Context
	bgStop   context.CancelFunc
}

type dockerNode struct {
	name      string                          // n1, or n1-replica, n1-replica-2, … for a replica
	holder    *testcontainers.DockerContainer // owns the network namespace: the address and the published port
	ctr       *testcontainers.DockerContainer // the redis-server, in the holder's namespace
	addr      string                          // where the harness reaches it: ip:6379, or published
	ip        string                          // address on the engine's bridge network, which a replica follows
	published string                          // the published port, on 127.0.0.1
	clock     *FakeClock                      // nil without Spec.FakeClock

	// With Spec.Replicas, on a primary: its replica (nil while a replacement starts after a failover), a channel
	// closed once the replica is in place or failed to start, and whether its replication is stalled.
	replica   *dockerNode
	replReady chan struct{}
	replErr   error
	stalled   bool
}

// Name implements Backend.
func (d *Docker) Name() string { return "docker" }

// ImageBuilt says whether Start built the node image (false when it already existed), so that a caller can tell
// a cold start from a warm one.
func (d *Docker) ImageBuilt() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.built
}

// Image returns the node image's reference, once Start has resolved it, for logs and for tests that inspect it.
func (d *Docker) Image() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.image
}

// RunID is the value of DockerLabelRun on this instance's containers, so that a caller can find exactly them.
func (d *Docker) RunID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runIDLocked()
}

func (d *Docker) runIDLocked() string {
	if d.id == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		d.id = hex.EncodeToString(b[:])
	}
	return d.id
}

func (d *Docker) callTimeout() time.Duration {
	if d.CallTimeout > 0 {
		return d.CallTimeout
	}
	return 60 * time.Second
}

// call derives a context for one call to the engine: ctx's cancellation, and a deadline.
func (d *Docker) call(ctx context.Context, scale int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(scale)*d.callTimeout())
}

// op derives the context of one operation on a running node (pause, resume, kill, restart, promotion): the
// caller's values but not its cancellation, and a deadline of its own. Once begun, such an operation is carried
// to its end rather than abandoned half-way when the run ends around it, which would leave a node killed that
// no heal knows of (the local backend's signals cannot be abandoned either); the deadline still bounds it.
func (d *Docker) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.callTimeout())
}

var tcEnvOnce sync.Once

// setTestcontainersEnv disables the reaper, whose image cannot be pulled, and, unless the user chose otherwise,
// tells testcontainers-go that published ports are on 127.0.0.1. Inside a container (a /.dockerenv file)
// testcontainers-go would otherwise take the default gateway for the engine's host, where nothing is published.
// It must run before testcontainers-go reads its configuration (once per process).
func setTestcontainersEnv() {
	tcEnvOnce.Do(func() {
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !ok {
			_ = os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
		}
		tclog.SetDefault(quietBanner{tclog.Default()})
	})
}

// quietBanner drops the banner testcontainers-go prints to its default logger on its first contact with the
// engine, which would break into the run's progress line, and passes every other message on.
type quietBanner struct{ next tclog.Logger }

// Printf implements testcontainers-go's log.Logger.
func (q quietBanner) Printf(format string, v ...any) {
	if strings.Contains(format, "Connected to docker") {
		return
	}
	q.next.Printf(format, v...)
}

// dockerProvider connects to the engine through testcontainers-go, with a deadline, and checks that it answers
// and that it runs on this machine.
func dockerProvider(ctx context.Context, timeout time.Duration) (*testcontainers.DockerProvider, error) {
	setTestcontainersEnv()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		// testcontainers-go quietly falls back to the default socket when DOCKER_HOST does not answer: the engine
		// the user named is checked first, so that the run never goes to another one.
		if err := pingEnvHost(ctx); err != nil {
			return nil, fmt.Errorf("%w: DOCKER_HOST=%s: %v: %s", ErrDockerUnavailable, h, err, DockerFix)
		}
	}
	type result struct {
		p   *testcontainers.DockerProvider
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
		ch <- result{p, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (no answer within %s): %s", ErrDockerUnavailable, timeout, DockerFix)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v: %s", ErrDockerUnavailable, r.err, DockerFix)
	}
	if _, err := r.p.Client().Ping(ctx, client.PingOptions{}); err != nil {
		_ = r.p.Close()
		return nil, fmt.Errorf("%w: %v: %s", ErrDockerUnavailable, err, DockerFix)
	}
	if err := localEngine(r.p.Client().DaemonHost()); err != nil {
		_ = r.p.Close()
		return nil, err
	}
	return r.p, nil
}

// pingEnvHost pings the engine the environment (DOCKER_HOST and its TLS settings) names.
func pingEnvHost(ctx context.Context) error {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no answer: %w", ctx.Err())
		}
		return err
	}
	return nil
}

// DockerAvailable says whether the docker backend can reach a Docker engine on this machine (nil) or why not (an
// error wrapping ErrDockerUnavailable and naming the fix), without starting anything: tests skip on it, and a
// tool can refuse --backend docker up front.
func DockerAvailable(ctx context.Context) error {
	p, err := dockerProvider(ctx, 15*time.Second)
	if err != nil {
		return err
	}
	return p.Close()
}

// localEngine refuses an engine reached over the network at another host: the nodes' ports are published on
// that host's loopback, which this process cannot reach, and their bridge network is that host's.
func localEngine(daemonHost string) error {
	u, err := url.Parse(daemonHost)
	if err != nil {
		return fmt.Errorf("docker engine address %q: %w", daemonHost, err)
	}
	switch u.Scheme {
	case "unix", "npipe", "":
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("the docker backend needs a Docker engine on this machine (it reaches the nodes on 127.0.0.1), "+
		"not one at %s: unset DOCKER_HOST or point it at the local engine, or run with --backend local", daemonHost)
}

// Paths inside the containers for the fake clock: the bind-mounted directory of the node's follow file.
const (
	dockerClockDir  = "/run/redlock-harness-clock"
	dockerClockFile = "faketime"
	dockerFakeLib   = dockerFakeDir + "/libfaketime.so.1"
	dockerFakeShim  = dockerFakeDir + "/faketime-shim.so"
)

// Start implements Backend: it builds the node image if needed and starts the nodes' containers in parallel
// (then their replicas, with Spec.Replicas), returning once each answers PING (and each replica has completed
// its first synchronisation).
func (d *Docker) Start(ctx context.Context, spec Spec) ([]Node, error) {
	imgSpec, err := d.imageSpec(spec)
	if err != nil {
		return nil, err
	}
	p, err := dockerProvider(ctx, 15*time.Second)
	if err != nil {
		return nil, err
	}
	d.begin(ctx, p, spec)
	primaries, err := d.startNodes(ctx, p, imgSpec, spec)
	if err == nil && spec.Replicas {
		err = d.startReplicas(ctx, primaries)
	}
	if err != nil {
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
		_ = d.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return d.nodesOf(primaries), nil
}

// imageSpec is what the node image holds: the host's redis-server (Binary, else the one on PATH) and, with
// Spec.FakeClock, libfaketime and its shim.
func (d *Docker) imageSpec(spec Spec) (*imageSpec, error) {
	binary := d.Binary
	if binary == "" {
		p, err := FindRedisServer()
		if err != nil {
			return nil, err
		}
		binary = p
	}
	var extra map[string]string
	if spec.FakeClock {
		tools, err := findFakeTools()
		if err != nil {
			return nil, err
		}
		extra = map[string]string{dockerFakeLib: tools.lib, dockerFakeShim: tools.shim}
	}
	return nodeImageSpec(binary, extra)
}

// dockerServerArgs are redis-server's arguments on every node and replica, with the persistence spec asks for.
func dockerServerArgs(persistence string) []string {
	args := []string{"--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", dockerDataDir,
		"--daemonize", "no", "--save", "",
		// A replica's full synchronisation starts at once instead of waiting 5s for other replicas to join it.
		"--repl-diskless-sync-delay", "0"}
	if persistence == "aof-always" {
		return append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	return append(args, "--appendonly", "no")
}

// begin takes the engine p for this instance: it gets its run id, removes what killed harnesses left, and
// resets the state of a previous start, so that from here on Stop removes whatever the start creates.
func (d *Docker) begin(ctx context.Context, p *testcontainers.DockerProvider, spec Spec) {
	d.mu.Lock()
	d.provider = p
	d.runIDLocked()
	d.mu.Unlock()
	if gone := d.sweepStaleContainers(ctx); len(gone) > 0 {
		fmt.Fprintf(os.Stderr, "docker: removed %d container(s) a killed harness left: %s\n", len(gone), strings.Join(gone, " "))
	}
	d.mu.Lock()
	d.args, d.fake, d.rates = dockerServerArgs(spec.Persistence), spec.FakeClock, spec.ClockRates
	d.replicas = map[string]int{}
	d.stopped = false
	d.bgCtx, d.bgStop = context.WithCancel(context.Background())
	d.mu.Unlock()
}

// startNodes builds the node image if needed, makes the follow files' directory with Spec.FakeClock, and starts
// the primaries n1…nN in parallel. Every container created is recorded for Stop, even on error.
func (d *Docker) startNodes(ctx context.Context, p *testcontainers.DockerProvider, imgSpec *imageSpec, spec Spec) ([]*dockerNode, error) {
	bctx, cancel := d.call(ctx, 5)
	ref, built, err := ensureImage(bctx, p, imgSpec)
	cancel()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.image, d.built = ref, built
	d.mu.Unlock()
	if spec.FakeClock {
		if err := d.makeClockDir(); err != nil {
			return nil, err
		}
	}
	names := make([]string, spec.Nodes)
	for i := range names {
		names[i] = NodeName(i)
	}
	primaries, err := d.startAll(ctx, names, nil)
	d.mu.Lock()
	d.nodes = primaries
	d.mu.Unlock()
	return primaries, err
}

// makeClockDir makes the host directory of the nodes' follow files, marked with its owner for the sweep.
func (d *Docker) makeClockDir() error {
	dir, err := os.MkdirTemp("", "redlock-harness-docker-clock-")
	if err == nil {
		err = markOwned(dir)
	}
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.clockDir = dir
	d.mu.Unlock()
	return nil
}

// startReplicas starts a replica of every primary, following its bridge address, and waits for each to complete
// its first synchronisation. Every replica created is recorded on its primary for Stop, even on error.
func (d *Docker) startReplicas(ctx context.Context, primaries []*dockerNode) error {
	rnames := make([]string, len(primaries))
	follow := make([]string, len(primaries))
	for i, n := range primaries {
		if n.ip == "" {
			return fmt.Errorf("%s has no address on the engine's bridge network for a replica to follow", n.name)
		}
		rnames[i], follow[i] = d.replicaName(n.name), n.ip
	}
	replicas, err := d.startAll(ctx, rnames, follow)
	d.mu.Lock()
	for i, r := range replicas {
		ready := make(chan struct{})
		close(ready)
		primaries[i].replica, primaries[i].replReady = r, ready
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	for _, r := range replicas {
		if err := waitSynced(ctx, r.addr); err != nil {
			return fmt.Errorf("%s: %w", r.name, d.explain(ctx, r, err))
		}
	}
	return nil
}

// nodesOf is the primaries as the run sees them: names and the addresses the harness reaches them at.
func (d *Docker) nodesOf(primaries []*dockerNode) []Node {
	out := make([]Node, len(primaries))
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, n := range primaries {
		out[i] = Node{Name: n.name, Addr: n.addr}
	}
	return out
}

// replicaName names the next replica container of node name: name-replica, then name-replica-2, …
func (d *Docker) replicaName(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replicas[name]++
	if k := d.replicas[name]; k > 1 {
		return fmt.Sprintf("%s-replica-%d", name, k)
	}
	return name + "-replica"
}

// startAll starts one container per name in parallel; follow[i], when given and not empty, is the bridge address
// of the primary the i-th replicates. The returned slice holds every container that was created (nil entries
// for the others), so that the caller can remove them even on error.
func (d *Docker) startAll(ctx context.Context, names, follow []string) ([]*dockerNode, error) {
	nodes := make([]*dockerNode, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		f := ""
		if follow != nil {
			f = follow[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = d.startContainer(ctx, name, f)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nodes, err
	}
	return nodes, nil
}

// startContainer starts one node, as a replica of the primary at bridge address follow when not empty: first
// its network holder, a container that owns the node's network namespace, its bridge address and its published
// port, then the server's container inside that namespace. The holder lives as long as the node: the server's
// container can be killed and started again without its address changing, and while the server is down a
// connection to the address is refused at once (the namespace answers with a reset) instead of waiting for an
// address nobody holds any more, which could also be handed to another container meanwhile. The returned node
// is non-nil whenever a container was created, so that it is removed even when it failed to start.
func (d *Docker) startContainer(ctx context.Context, name, follow string) (*dockerNode, error) {
	s, clock, err := d.setupNode(name, follow)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	node := &dockerNode{name: name, clock: clock}
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	if err := d.startHolder(cctx, node, s); err != nil {
		return d.created(node), err
	}
	return node, d.startServer(cctx, node, s)
}

// nodeSetup is what a node's two containers are made from: the names, image and labels they share, and the
// server's command line, environment and bind mounts.
type nodeSetup struct {
	name, base, runID, image string
	args                     []string
	env                      map[string]string
	binds                    []string
}

// labels are the labels of the node's container in role ("net" or "redis"): the backend's, the run's, the
// node's and the owner's, by which Stop, a person and the next sweep find it.
func (s nodeSetup) labels(role string) map[string]string {
	return map[string]string{DockerLabelBackend: "docker", DockerLabelRun: s.runID, dockerLabelNode: s.name, dockerLabelRole: role,
		dockerLabelOwner: OwnerTag()}
}

// setupNode prepares node name's containers, as a replica of the primary at bridge address follow when not
// empty; under a fake clock it also makes the node's clock, whose follow file the server's container mounts.
func (d *Docker) setupNode(name, follow string) (nodeSetup, *FakeClock, error) {
	d.mu.Lock()
	s := nodeSetup{name: name, runID: d.id, image: d.image, args: append([]string(nil), d.args...)}
	fake, clockDir, rate := d.fake, d.clockDir, d.rates[name]
	d.mu.Unlock()
	s.base = "redlock-harness-" + s.runID + "-" + name
	if follow != "" {
		s.args = append(s.args, "--replicaof", follow, "6379")
	}
	if !fake {
		return s, nil, nil
	}
	dir := filepath.Join(clockDir, name)
	clock, err := NewFakeClock(filepath.Join(dir, dockerClockFile))
	if err != nil {
		return s, nil, err
	}
	if follow == "" {
		clock.Rate = rate
	}
	s.env = map[string]string{}
	for _, kv := range FakeTimeEnv(dockerFakeLib, dockerFakeShim, dockerClockDir+"/"+dockerClockFile, clock.Rate) {
		k, v, _ := strings.Cut(kv, "=")
		s.env[k] = v
	}
	s.binds = []string{dir + ":" + dockerClockDir}
	return s, clock, nil
}

// startHolder creates and starts the node's network holder and records on node its published port and bridge
// address. The holder runs the image's redis-server listening on nothing but a unix socket: it only keeps the
// namespace alive. node.holder is set whenever the engine created the container.
func (d *Docker) startHolder(ctx context.Context, node *dockerNode, s nodeSetup) error {
	holder, err := d.create(ctx, testcontainers.ContainerRequest{
		Image:        s.image,
		Name:         s.base + "-net",
		Cmd:          []string{"--port", "0", "--unixsocket", dockerDataDir + "/holder.sock", "--save", "", "--appendonly", "no", "--daemonize", "no"},
		ExposedPorts: []string{redisPort},
		Labels:       s.labels("net"),
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{
				network.MustParsePort(redisPort): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
			}
		},
	})
	node.holder = holder
	if err != nil {
		return fmt.Errorf("start %s: network holder: %w", s.name, err)
	}
	if err := holder.Start(ctx); err != nil {
		return fmt.Errorf("start %s: network holder: %w", s.name, d.explainCtr(ctx, holder, err))
	}
	info, err := holder.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("start %s: network holder: %w", s.name, err)
	}
	if node.published = publishedPort(info); node.published == "" {
		return fmt.Errorf("start %s: the engine published no host port for 6379/tcp", s.name)
	}
	node.ip = bridgeIP(info)
	return nil
}

// publishedPort is where the engine published the container's port 6379 on 127.0.0.1, or "" when it did not.
func publishedPort(info *container.InspectResponse) string {
	published := ""
	if info.NetworkSettings != nil {
		for k, b := range info.NetworkSettings.Ports {
			if k.Num() == 6379 && len(b) > 0 {
				published = net.JoinHostPort("127.0.0.1", b[0].HostPort)
			}
		}
	}
	return published
}

// startServer creates the node's server container inside its holder's network namespace, starts it (under a
// fake clock once the follow file is ready) and waits until it answers. node.ctr is set whenever the engine
// created the container.
func (d *Docker) startServer(ctx context.Context, node *dockerNode, s nodeSetup) error {
	ctr, err := d.create(ctx, testcontainers.ContainerRequest{
		Image:  s.image,
		Name:   s.base,
		Cmd:    s.args,
		Env:    s.env,
		Labels: s.labels("redis"),
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.NetworkMode = container.NetworkMode("container:" + node.holder.GetContainerID())
			hc.Binds = append(hc.Binds, s.binds...)
		},
		// No wait strategy: the image has no shell, and ready() checks the node itself with a PING.
	})
	node.ctr = ctr
	if err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	if node.clock != nil {
		// The shim holds the process until the next whole second; Calibrate corrects a later start.
		if err := node.clock.Prepare(); err != nil {
			return fmt.Errorf("start %s: %w", s.name, err)
		}
	}
	if err := ctr.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", s.name, d.explain(ctx, node, err))
	}
	if err := d.ready(ctx, node); err != nil {
		return fmt.Errorf("start %s: %w", s.name, d.explain(ctx, node, err))
	}
	return nil
}

// create creates a container (without starting it) through testcontainers-go. The container is returned
// whenever the engine created it, error or not, so that it can be removed.
func (d *Docker) create(ctx context.Context, req testcontainers.ContainerRequest) (*testcontainers.DockerContainer, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Logger:           tclog.NewNoopLogger(),
	})
	dc, _ := c.(*testcontainers.DockerContainer)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("%w (no answer from the engine within %s)", err, d.callTimeout())
		}
		return dc, err
	}
	if dc == nil {
		return nil, fmt.Errorf("unexpected container type %T", c)
	}
	return dc, nil
}

// created returns n when it has a container, nil otherwise.
func (d *Docker) created(n *dockerNode) *dockerNode {
	if n == nil || (n.ctr == nil && n.holder == nil) {
		return nil
	}
	return n
}

// ready waits until the node's server answers PING on its published port, chooses the address the harness
// reaches it at (see Docker), and, under a fake clock, calibrates the clock of the new process.
func (d *Docker) ready(ctx context.Context, n *dockerNode) error {
	d.mu.Lock()
	published, ip, clock := n.published, n.ip, n.clock
	d.mu.Unlock()
	if err := waitReady(ctx, published, nil); err != nil {
		return err
	}
	addr := published
	if !d.PublishedPorts && ip != "" {
		if direct := net.JoinHostPort(ip, "6379"); answers(ctx, direct) {
			addr = direct
		}
	}
	if clock != nil {
		if err := clock.Calibrate(ctx, addr); err != nil {
			return err
		}
	}
	d.mu.Lock()
	n.addr = addr
	d.mu.Unlock()
	return nil
}

// answers says whether a Redis server answers PING at addr within half a second.
func answers(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
		ContextTimeoutEnabled: true})
	defer c.Close()
	return c.Ping(ctx).Err() == nil
}

// bridgeIP returns the container's address on the default bridge network (or on its only network).
func bridgeIP(info *container.InspectResponse) string {
	if info.NetworkSettings == nil {
		return ""
	}
	if e, ok := info.NetworkSettings.Networks["bridge"]; ok && e != nil && e.IPAddress.IsValid() {
		return e.IPAddress.String()
	}
	for _, e := range info.NetworkSettings.Networks {
		if e != nil && e.IPAddress.IsValid() {
			return e.IPAddress.String()
		}
	}
	return ""
}

// explain adds the tail of the node's server log to a start error, and names the likely cause of a deadline.
func (d *Docker) explain(ctx context.Context, n *dockerNode, err error) error {
	if n == nil {
		return d.explainCtr(ctx, nil, err)
	}
	return d.explainCtr(ctx, n.ctr, err)
}

// explainCtr adds the tail of a container's log to an error, and names the likely cause of a deadline.
func (d *Docker) explainCtr(ctx context.Context, c *testcontainers.DockerContainer, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("%w (no answer from the engine within %s)", err, d.callTimeout())
	}
	if c == nil {
		return err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rc, lerr := c.Logs(lctx)
	if lerr != nil {
		return err
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<16))
	if s := strings.TrimSpace(string(b)); s != "" {
		return fmt.Errorf("%w\ncontainer log: %s", err, tail(s, 600))
	}
	return err
}

func (d *Docker) node(i int) (*dockerNode, *testcontainers.DockerProvider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.nodes) || d.provider == nil || d.nodes[i] == nil {
		return nil, nil, fmt.Errorf("no node %d", i)
	}
	return d.nodes[i], d.provider, nil
}

// current returns the container serving node n now (a failover replaces it).
func (d *Docker) current(n *dockerNode) *testcontainers.DockerContainer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return n.ctr
}

// Pause implements Pauser: the server's container is paused (frozen), its connections stay open.
func (d *Docker) Pause(ctx context.Context, i int) error {
	n, p, err := d.node(i)
	if err != nil {
		return err
	}
	cctx, cancel := d.op(ctx)
	defer cancel()
	id := d.current(n).GetContainerID()
	st, err := p.Client().ContainerInspect(cctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("pause %s: %w", n.name, err)
	}
	if st.Container.State == nil || !st.Container.State.Running {
		return fmt.Errorf("pause %s: %w", n.name, ErrNodeDown)
	}
	if _, err := p.Client().ContainerPause(cctx, id, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", n.name, err)
	}
	return nil
}

// Resume implements Pauser: the server's container is unpaused and executes what queued up meanwhile; a
// container that is no longer paused (killed or restarted since) is left as it is.
func (d *Docker) Resume(ctx context.Context, i int) error {
	n, p, err := d.node(i)
	if err != nil {
		return err
	}
	cctx, cancel := d.op(ctx)
	defer cancel()
	id := d.current(n).GetContainerID()
	st, err := p.Client().ContainerInspect(cctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("resume %s: %w", n.name, err)
	}
	if st.Container.State == nil || !st.Container.State.Paused {
		return nil // killed since its pause (Kill unpauses first), or restarted: nothing to resume
	}
	if _, err := p.Client().ContainerUnpause(cctx, id, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("resume %s: %w", n.name, err)
	}
	return nil
}

// Kill implements Restarter: SIGKILL to the server's container (unpaused first, as the engine refuses to kill a
// paused one), and it returns once the container has stopped. The network holder stays.
func (d *Docker) Kill(ctx context.Context, i int) error {
	n, p, err := d.node(i)
	if err != nil {
		return err
	}
	if err := d.kill(ctx, p, d.current(n)); err != nil {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	return nil
}

// kill sends SIGKILL to a container and waits until it has stopped.
func (d *Docker) kill(ctx context.Context, p *testcontainers.DockerProvider, ctr *testcontainers.DockerContainer) error {
	cctx, cancel := d.op(ctx)
	defer cancel()
	id := ctr.GetContainerID()
	st, err := p.Client().ContainerInspect(cctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	if st.Container.State != nil && st.Container.State.Paused {
		if _, err := p.Client().ContainerUnpause(cctx, id, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("unpause: %w", err)
		}
	}
	if _, err := p.Client().ContainerKill(cctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return err
	}
	for {
		st, err := p.Client().ContainerInspect(cctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		if st.Container.State == nil || !st.Container.State.Running {
			return nil
		}
		select {
		case <-cctx.Done():
			return fmt.Errorf("still running: %w", cctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Restart implements Restarter: the killed server's container is started again, with its filesystem (and so an
// append-only file) as the kill left it, under a fake clock with the offset it had, and in the same network
// namespace: it comes back at the same address (returned), where its replica, if any, finds it again.
func (d *Docker) Restart(ctx context.Context, i int) (string, error) {
	n, p, err := d.node(i)
	if err != nil {
		return "", err
	}
	cctx, cancel := d.op(ctx)
	defer cancel()
	ctr := d.current(n)
	st, err := p.Client().ContainerInspect(cctx, ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("restart %s: %w", n.name, err)
	}
	if st.Container.State != nil && st.Container.State.Running {
		return "", fmt.Errorf("%s is still running", n.name)
	}
	d.mu.Lock()
	clock := n.clock
	d.mu.Unlock()
	if clock != nil {
		if err := clock.Prepare(); err != nil {
			return "", fmt.Errorf("restart %s: %w", n.name, err)
		}
	}
	if err := ctr.Start(cctx); err != nil {
		return "", fmt.Errorf("restart %s: %w", n.name, d.explain(cctx, n, err))
	}
	if err := d.ready(cctx, n); err != nil {
		return "", fmt.Errorf("restart %s: %w", n.name, d.explain(cctx, n, err))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return n.addr, nil
}

// ContainerIDs lists the containers of this instance that exist now, running or not, found by its label, so
// that a test can check that nothing is left behind.
func (d *Docker) ContainerIDs(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	p, id := d.provider, d.id
	d.mu.Unlock()
	if p == nil || id == "" {
		return nil, nil
	}
	return listByRun(ctx, p.Client(), id, d.callTimeout())
}

func listByRun(ctx context.Context, c client.APIClient, runID string, timeout time.Duration) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.ContainerList(cctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", DockerLabelRun+"="+runID),
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(res.Items))
	for _, s := range res.Items {
		ids = append(ids, s.ID)
	}
	return ids, nil
}

// listOwners maps every container of the harness (DockerLabelBackend) to its owner label ("" when it has none).
func listOwners(ctx context.Context, c client.APIClient) (map[string]string, error) {
	res, err := c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", DockerLabelBackend+"=docker"),
	})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range res.Items {
		out[s.ID] = s.Labels[dockerLabelOwner]
	}
	return out, nil
}

// forceRemove removes a container whatever its state (an engine that refuses a paused one gets it unpaused first).
func forceRemove(ctx context.Context, c client.APIClient, cid string) error {
	_, err := c.ContainerRemove(ctx, cid, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) {
		_, _ = c.ContainerUnpause(ctx, cid, client.ContainerUnpauseOptions{})
		_, err = c.ContainerRemove(ctx, cid, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %.12s: %w", cid, err)
	}
	return nil
}

// Stop implements Backend: a replacement replica being started is abandoned, and every container of this
// instance is removed (killed first if running, paused or not), the ones it knows and any other carrying its
// label; the follow files' directory goes too. It is safe to call more than once.
func (d *Docker) Stop(ctx context.Context) error {
	st := d.detach()
	if st.provider == nil {
		if st.clockDir != "" {
			_ = os.RemoveAll(st.clockDir)
		}
		return nil
	}
	ctx = context.WithoutCancel(ctx) // Stop runs on interruption too; each call to the engine has stopCallTimeout
	errs := removeRun(ctx, st.provider.Client(), st.runID, st.known, st.dirty)
	if st.clockDir != "" {
		_ = os.RemoveAll(st.clockDir)
	}
	_ = st.provider.Close() // idle connections only: the client stays usable (ContainerIDs after Stop)
	return errors.Join(errs...)
}

// stopState is what Stop takes out of the instance to remove: the engine, the run id, whether a start failed
// or was interrupted (containers may exist that the instance does not know of), the follow files' directory and
// the ids of the containers it knows.
type stopState struct {
	provider *testcontainers.DockerProvider
	runID    string
	dirty    bool
	clockDir string
	known    []string
}

// detach marks the instance stopped, abandons a replacement replica being started (which is registered or marked
// dirty first), and takes out of the instance what Stop removes, so that a second Stop finds nothing.
func (d *Docker) detach() stopState {
	d.mu.Lock()
	d.stopped = true
	if d.bgStop != nil {
		d.bgStop()
	}
	d.mu.Unlock()
	d.bg.Wait()
	d.mu.Lock()
	st := stopState{provider: d.provider, runID: d.id, dirty: d.dirty, clockDir: d.clockDir}
	known := knownContainers(append(append([]*dockerNode(nil), d.nodes...), d.retired...))
	d.nodes, d.retired, d.dirty, d.clockDir = nil, nil, false, ""
	d.mu.Unlock()
	seen := map[string]bool{}
	for _, ctr := range known {
		if cid := ctr.GetContainerID(); !seen[cid] {
			seen[cid] = true
			st.known = append(st.known, cid)
		}
	}
	return st
}

// knownContainers lists the containers of nodes and of their replicas, servers and holders; d.mu must be held.
func knownContainers(nodes []*dockerNode) []*testcontainers.DockerContainer {
	var known []*testcontainers.DockerContainer
	for _, n := range nodes {
		if n == nil {
			continue
		}
		for _, m := range []*dockerNode{n, n.replica} {
			if m == nil {
				continue
			}
			for _, c := range []*testcontainers.DockerContainer{m.ctr, m.holder} {
				if c != nil {
					known = append(known, c)
				}
			}
		}
	}
	return known
}

// removeRun removes the known containers, then every other container carrying the run's label: containers
// created by calls cut short (an interrupted or failed start, dirty) are found that way, and since the engine may
// finish creating one after the call was abandoned, a dirty run gets a second look half a second later.
func removeRun(ctx context.Context, c client.APIClient, runID string, known []string, dirty bool) []error {
	errs := removeParallel(ctx, c, known)
	done := map[string]bool{}
	for _, cid := range known {
		done[cid] = true
	}
	sweeps := 1
	if dirty {
		sweeps = 2
	}
	for s := 0; s < sweeps; s++ {
		if s > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		left, err := listByRun(ctx, c, runID, stopCallTimeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers: %w", err))
			continue
		}
		var again []string
		for _, cid := range left {
			if !done[cid] || s > 0 {
				again = append(again, cid)
			}
		}
		errs = append(errs, removeParallel(ctx, c, again)...)
	}
	return errs
}

// removeParallel removes the containers ids at once, each call bounded by stopCallTimeout, and returns the
// removals that failed.
func removeParallel(ctx context.Context, c client.APIClient, ids []string) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, cid := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, stopCallTimeout)
			defer cancel()
			if err := forceRemove(cctx, c, cid); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}
