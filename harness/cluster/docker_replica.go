package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetClockOffset implements ClockSkewer: node i's wall clock reads real time + offset from now on (0 puts it
// back on real time), through the mtime of its follow file, which the container sees through a bind mount. The
// offset must be a whole number of seconds. It needs Spec.FakeClock. As on the local backend, the offset
// survives a crash-restart, and a failover brings the promoted replica's own clock.
func (d *Docker) SetClockOffset(_ context.Context, i int, offset time.Duration) error {
	n, _, err := d.node(i)
	if err != nil {
		return err
	}
	d.mu.Lock()
	clock := n.clock
	d.mu.Unlock()
	if clock == nil {
		return fmt.Errorf("%s runs without a fake clock: start the backend with Spec.FakeClock", n.name)
	}
	return clock.SetOffset(offset)
}

// ClockOffset returns the offset in force on node i (0 without a fake clock), for tests and reports.
func (d *Docker) ClockOffset(i int) time.Duration {
	n, _, err := d.node(i)
	if err != nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if n.clock == nil {
		return 0
	}
	return n.clock.Offset()
}

// ClockRate implements ClockRater: the rate node i's clock runs at, 1 when it keeps real time.
func (d *Docker) ClockRate(i int) float64 {
	n, _, err := d.node(i)
	if err != nil {
		return 1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return clockRate(n.clock)
}

// ReplicaAddr returns the address the harness reaches node i's replica at, waiting for a replacement replica still being
// started after a failover, so that a test can look at what the replica holds.
func (d *Docker) ReplicaAddr(ctx context.Context, i int) (string, error) {
	n, err := d.replicated(ctx, i)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return n.replica.addr, nil
}

// replicated returns node i once its replica is in place, waiting for a replacement still being started. The
// wait outlives ctx's cancellation, up to the operation's own deadline (see op): a failover that the end of the
// run catches waiting for its replica is carried out rather than left half-way.
func (d *Docker) replicated(ctx context.Context, i int) (*dockerNode, error) {
	ctx, cancel := d.op(ctx)
	defer cancel()
	n, _, err := d.node(i)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	ready := n.replReady
	d.mu.Unlock()
	if ready == nil {
		return nil, fmt.Errorf("%s has no replica: start the backend with Spec.Replicas", n.name)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: its replica is not in place: %w", n.name, ctx.Err())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if n.replica == nil {
		return nil, fmt.Errorf("%s has no replica: %v", n.name, n.replErr)
	}
	return n, nil
}

// replicaOf sends REPLICAOF host port to the server at addr ("NO", "ONE" promotes it).
func replicaOf(ctx context.Context, addr, host, port string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 2 * time.Second})
	defer c.Close()
	return c.Do(ctx, "REPLICAOF", host, port).Err()
}

// stallHost and stallPort are where a stalled replica looks for its primary: its own loopback, where nothing
// listens on that port, so every attempt fails at once and nothing reaches it.
const (
	stallHost = "127.0.0.1"
	stallPort = "1"
)

// StallReplication cuts node i's replica off its primary while the primary goes on acknowledging writes: the
// replica is told to follow an address where no primary answers, so it drops its link and keeps the data it
// had received (and its replication position, for a partial resynchronisation). Failover after a stall loses
// every write acknowledged since the stall began; ResumeReplication lets the replica catch up instead.
//
// The local backend blackholes the replica's link through a proxy instead; either way nothing the primary
// acknowledges from then on reaches the replica.
func (d *Docker) StallReplication(ctx context.Context, i int) error {
	n, err := d.replicated(ctx, i)
	if err != nil {
		return err
	}
	d.mu.Lock()
	r := n.replica
	d.mu.Unlock()
	cctx, cancel := d.op(ctx)
	defer cancel()
	if err := replicaOf(cctx, r.addr, stallHost, stallPort); err != nil {
		return fmt.Errorf("stall %s's replication: %w", n.name, err)
	}
	d.mu.Lock()
	n.stalled = true
	d.mu.Unlock()
	return nil
}

// ResumeReplication points node i's replica at its primary again, which resynchronises it (partially, when the
// primary's backlog still holds what it missed).
func (d *Docker) ResumeReplication(ctx context.Context, i int) error {
	n, err := d.replicated(ctx, i)
	if err != nil {
		return err
	}
	d.mu.Lock()
	r, ip := n.replica, n.ip
	d.mu.Unlock()
	cctx, cancel := d.op(ctx)
	defer cancel()
	if err := replicaOf(cctx, r.addr, ip, "6379"); err != nil {
		return fmt.Errorf("resume %s's replication: %w", n.name, err)
	}
	d.mu.Lock()
	n.stalled = false
	d.mu.Unlock()
	return nil
}

// Failover implements Failoverer, as Sentinel or a managed service would do it when a primary dies: node i's
// primary container gets SIGKILL (whatever it had not yet sent its replica dies with it), its replica is
// promoted with REPLICAOF NO ONE and serves the node from then on, at the address returned. The
// caller repoints its clients. A new replica container of the promoted node is started in the background, so
// that the node can fail over again; Failover waits for it when called before it is in place.
func (d *Docker) Failover(ctx context.Context, i int) (string, error) {
	n, err := d.replicated(ctx, i)
	if err != nil {
		return "", err
	}
	_, p, err := d.node(i)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	r, old := n.replica, n.ctr
	d.mu.Unlock()
	if err := d.kill(ctx, p, old); err != nil {
		return "", fmt.Errorf("kill %s's primary: %w", n.name, err)
	}
	cctx, cancel := d.op(ctx)
	err = replicaOf(cctx, r.addr, "NO", "ONE")
	cancel()
	if err != nil {
		return "", fmt.Errorf("promote %s: %w", r.name, err)
	}
	d.mu.Lock()
	// The old primary's network holder stays until Stop: its address refuses connections at once rather than
	// going to nobody, or to a container started later.
	d.retired = append(d.retired, &dockerNode{name: n.name, ctr: old, holder: n.holder, clock: n.clock})
	n.holder, n.ctr, n.addr, n.ip, n.published, n.clock = r.holder, r.ctr, r.addr, r.ip, r.published, r.clock
	n.replica, n.replErr, n.stalled = nil, nil, false
	ready := make(chan struct{})
	n.replReady = ready
	addr, ip := n.addr, n.ip
	stopped := d.stopped
	if !stopped {
		d.bg.Add(1)
	}
	bgCtx := d.bgCtx
	d.mu.Unlock()
	if stopped {
		close(ready)
		return addr, nil
	}
	go d.replaceReplica(bgCtx, n, ip, ready)
	return addr, nil
}

// replaceReplica starts a new replica container of node n, following it at bridge address primary.
func (d *Docker) replaceReplica(ctx context.Context, n *dockerNode, primary string, ready chan struct{}) {
	defer d.bg.Done()
	defer close(ready)
	r, err := d.startContainer(ctx, d.replicaName(n.name), primary)
	if err == nil {
		err = waitSynced(ctx, r.addr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && !d.stopped {
		n.replica = r
		return
	}
	if err == nil {
		err = errors.New("backend stopped")
	}
	n.replErr = err
	// The container, if any, is left to Stop: its label finds it.
	d.dirty = true
	if r != nil {
		d.retired = append(d.retired, r)
	}
}
