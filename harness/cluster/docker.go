package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ErrDockerUnavailable means the Docker engine could not be reached.
var ErrDockerUnavailable = errors.New("docker engine not reachable")

// DockerFix is what a user does when the Docker engine is not reachable.
const DockerFix = "start the Docker daemon (sudo systemctl start docker) and check that /var/run/docker.sock exists " +
	"and that you may use it (member of the docker group), or point DOCKER_HOST at a running engine"

// Labels on everything the docker backend creates: DockerLabelBackend on every container (value "docker"),
// DockerLabelRun with the backend instance's own id, so that it removes exactly the containers it created.
const (
	DockerLabelBackend = "org.redlock-harness.backend"
	DockerLabelRun     = "org.redlock-harness.run"
	dockerLabelNode    = "org.redlock-harness.node"
	dockerLabelImage   = "org.redlock-harness.image"
)

const redisPort = "6379/tcp"

// Docker runs each node as a container of an image built offline from the host's redis-server (see
// docker_image.go), through testcontainers-go, with the node's port published on 127.0.0.1 only. The engine
// must be local (the nodes are reached at 127.0.0.1).
//
// Pause and Resume pause and unpause the container (the cgroup freezer: the process stops, its connections stay
// open). Kill sends SIGKILL to the container; Restart starts the same container again: its filesystem, and so
// an append-only file written with Spec.Persistence "aof-always", survives, but the published port may change,
// so Restart returns the new address.
//
// Testcontainers' reaper (Ryuk) is disabled, since its image cannot be pulled without a registry: Stop removes
// every container the backend created, found by its labels, on every path (a failed or interrupted Start
// included). Every call to the engine has a deadline.
type Docker struct {
	// Binary is the redis-server copied into the image; empty means look it up on PATH (and install it when
	// root).
	Binary string
	// CallTimeout bounds each call to the engine (default 60s); the image build gets five times as long.
	CallTimeout time.Duration

	mu       sync.Mutex
	id       string // this instance's DockerLabelRun value
	provider *testcontainers.DockerProvider
	image    string
	built    bool
	nodes    []*dockerNode
	dirty    bool // a Start failed or was interrupted: containers may exist that nodes does not know of
}

type dockerNode struct {
	name string
	ctr  *testcontainers.DockerContainer
	addr string
}

// Name implements Backend.
func (d *Docker) Name() string { return "docker" }

// ImageBuilt says whether Start built the node image (false when it already existed).
func (d *Docker) ImageBuilt() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.built
}

// Image returns the node image's reference, once Start has resolved it.
func (d *Docker) Image() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.image
}

// RunID is the value of DockerLabelRun on this instance's containers.
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

var disableReaper sync.Once

// dockerProvider connects to the engine through testcontainers-go, with a deadline, and checks that it answers.
func dockerProvider(ctx context.Context, timeout time.Duration) (*testcontainers.DockerProvider, error) {
	// Must be set before testcontainers-go reads its configuration (once per process).
	disableReaper.Do(func() { _ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true") })
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
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
	return r.p, nil
}

// Start implements Backend: it builds the node image if needed and starts the nodes' containers in parallel,
// returning once each answers PING.
func (d *Docker) Start(ctx context.Context, spec Spec) ([]Node, error) {
	if spec.Replicas {
		return nil, errors.New("the docker backend does not run replicas (failover): use --backend local")
	}
	if spec.FakeClock {
		return nil, errors.New("the docker backend does not run nodes under a fake clock (clock faults): use --backend local")
	}
	binary := d.Binary
	if binary == "" {
		p, err := FindRedisServer()
		if err != nil {
			return nil, err
		}
		binary = p
	}
	p, err := dockerProvider(ctx, 15*time.Second)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.provider = p
	id := d.runIDLocked()
	d.mu.Unlock()

	imgSpec, err := nodeImageSpec(binary, nil)
	if err != nil {
		return nil, err
	}
	bctx, cancel := d.call(ctx, 5)
	ref, built, err := ensureImage(bctx, p, imgSpec)
	cancel()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.image, d.built = ref, built
	d.mu.Unlock()

	args := []string{"--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", dockerDataDir,
		"--daemonize", "no", "--save", ""}
	if spec.Persistence == "aof-always" {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}

	nodes := make([]*dockerNode, spec.Nodes)
	errs := make([]error, spec.Nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = d.startContainer(ctx, id, ref, NodeName(i), args)
		}()
	}
	wg.Wait()
	d.mu.Lock()
	for _, n := range nodes {
		if n != nil {
			d.nodes = append(d.nodes, n)
		}
	}
	d.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
		_ = d.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	out := make([]Node, len(nodes))
	for i, n := range nodes {
		out[i] = Node{Name: n.name, Addr: n.addr}
	}
	return out, nil
}

// startContainer creates and starts one node's container. The returned node is non-nil whenever a container
// was created, so that it is removed even when it failed to start.
func (d *Docker) startContainer(ctx context.Context, runID, image, name string, args []string) (*dockerNode, error) {
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image,
			Name:         "redlock-harness-" + runID + "-" + name,
			Cmd:          args,
			ExposedPorts: []string{redisPort},
			Labels:       map[string]string{DockerLabelBackend: "docker", DockerLabelRun: runID, dockerLabelNode: name},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.PortBindings = network.PortMap{
					network.MustParsePort(redisPort): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
				}
			},
			// The image has no shell: only the published port can be checked, then PING (below).
			WaitingFor: wait.ForListeningPort(redisPort).SkipInternalCheck().WithStartupTimeout(d.callTimeout()),
		},
		Started: true,
		Logger:  tclog.NewNoopLogger(),
	}
	c, err := testcontainers.GenericContainer(cctx, req)
	var node *dockerNode
	if dc, ok := c.(*testcontainers.DockerContainer); ok && dc != nil {
		node = &dockerNode{name: name, ctr: dc}
	}
	if err != nil {
		return node, fmt.Errorf("start %s: %w", name, d.explain(cctx, node, err))
	}
	if node == nil {
		return nil, fmt.Errorf("start %s: unexpected container type %T", name, c)
	}
	if err := d.ready(cctx, node); err != nil {
		return node, fmt.Errorf("start %s: %w", name, d.explain(cctx, node, err))
	}
	return node, nil
}

// ready learns the node's published address and waits until it answers PING.
func (d *Docker) ready(ctx context.Context, n *dockerNode) error {
	port, err := n.ctr.MappedPort(ctx, redisPort)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", port.Port())
	if err := waitReady(ctx, addr, nil); err != nil {
		return err
	}
	d.mu.Lock()
	n.addr = addr
	d.mu.Unlock()
	return nil
}

// explain adds the tail of the container's log to a start error, and names the likely cause of a deadline.
func (d *Docker) explain(ctx context.Context, n *dockerNode, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("%w (no answer from the engine within %s)", err, d.callTimeout())
	}
	if n == nil {
		return err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rc, lerr := n.ctr.Logs(lctx)
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
	if i < 0 || i >= len(d.nodes) || d.provider == nil {
		return nil, nil, fmt.Errorf("no node %d", i)
	}
	return d.nodes[i], d.provider, nil
}

// Pause implements Pauser: the container is paused (frozen), its connections stay open.
func (d *Docker) Pause(ctx context.Context, i int) error {
	n, p, err := d.node(i)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	if _, err := p.Client().ContainerPause(cctx, n.ctr.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", n.name, err)
	}
	return nil
}

// Resume implements Pauser: the container is unpaused and executes what queued up meanwhile.
func (d *Docker) Resume(ctx context.Context, i int) error {
	n, p, err := d.node(i)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	if _, err := p.Client().ContainerUnpause(cctx, n.ctr.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("resume %s: %w", n.name, err)
	}
	return nil
}

// Kill implements Restarter: SIGKILL to the container (unpaused first, as the engine refuses to kill a paused
// one), and it returns once the container has stopped.
func (d *Docker) Kill(ctx context.Context, i int) error {
	n, p, err := d.node(i)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	id := n.ctr.GetContainerID()
	st, err := p.Client().ContainerInspect(cctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	if st.Container.State != nil && st.Container.State.Paused {
		if _, err := p.Client().ContainerUnpause(cctx, id, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("kill %s: unpause: %w", n.name, err)
		}
	}
	if _, err := p.Client().ContainerKill(cctx, id, client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", n.name, err)
	}
	for {
		st, err := p.Client().ContainerInspect(cctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("kill %s: %w", n.name, err)
		}
		if st.Container.State == nil || !st.Container.State.Running {
			return nil
		}
		select {
		case <-cctx.Done():
			return fmt.Errorf("kill %s: still running: %w", n.name, cctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Restart implements Restarter: the killed container is started again, with its filesystem (and so an
// append-only file) as the kill left it. The engine may publish it on another host port: the new address is
// returned.
func (d *Docker) Restart(ctx context.Context, i int) (string, error) {
	n, p, err := d.node(i)
	if err != nil {
		return "", err
	}
	cctx, cancel := d.call(ctx, 1)
	defer cancel()
	st, err := p.Client().ContainerInspect(cctx, n.ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("restart %s: %w", n.name, err)
	}
	if st.Container.State != nil && st.Container.State.Running {
		return "", fmt.Errorf("%s is still running", n.name)
	}
	if err := n.ctr.Start(cctx); err != nil {
		return "", fmt.Errorf("restart %s: %w", n.name, d.explain(cctx, n, err))
	}
	if err := d.ready(cctx, n); err != nil {
		return "", fmt.Errorf("restart %s: %w", n.name, d.explain(cctx, n, err))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return n.addr, nil
}

// ContainerIDs lists the containers of this instance that exist now, running or not, found by its label.
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

// Stop implements Backend: every container of this instance is removed (killed first if running, paused or
// not), the ones Start knows and any other carrying its label. It is safe to call more than once.
func (d *Docker) Stop(ctx context.Context) error {
	d.mu.Lock()
	p, id, nodes, dirty := d.provider, d.id, d.nodes, d.dirty
	d.nodes, d.dirty = nil, false
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // Stop runs on interruption too
	c := p.Client()
	remove := func(cid string) error {
		cctx, cancel := d.call(ctx, 1)
		defer cancel()
		_, err := c.ContainerRemove(cctx, cid, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !errdefs.IsNotFound(err) {
			// An engine that refuses to remove a paused container gets it unpaused first.
			_, _ = c.ContainerUnpause(cctx, cid, client.ContainerUnpauseOptions{})
			_, err = c.ContainerRemove(cctx, cid, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %.12s: %w", cid, err)
		}
		return nil
	}
	var errs []error
	done := map[string]bool{}
	for _, n := range nodes {
		cid := n.ctr.GetContainerID()
		done[cid] = true
		errs = append(errs, remove(cid))
	}
	// Containers created by calls cut short (an interrupted or failed Start) are found by their label; the engine
	// may finish creating one after the call was abandoned, hence a second look.
	sweeps := 1
	if dirty {
		sweeps = 2
	}
	for s := 0; s < sweeps; s++ {
		if s > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		ids, err := listByRun(ctx, c, id, d.callTimeout())
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers: %w", err))
			continue
		}
		for _, cid := range ids {
			if !done[cid] || s > 0 {
				errs = append(errs, remove(cid))
			}
		}
	}
	return errors.Join(errs...)
}
