package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
)

// Cycles is a throughput measurement of one strategy: acquire+release cycles per second with every worker on
// its own key, so the figure is the lock's own cost and not contention.
type Cycles struct {
	Strategy string
	Workers  int
	Proxied  bool
	Cycles   int64
	Elapsed  time.Duration
	Errors   int64
}

// PerSecond is the cycle rate.
func (c Cycles) PerSecond() float64 {
	if c.Elapsed <= 0 {
		return 0
	}
	return float64(c.Cycles) / c.Elapsed.Seconds()
}

// MeasureCycles runs workers × (acquire, release) on fresh local nodes for d, through the embedded Toxiproxy when
// proxied, else straight to the servers, or for n cycles in total when n > 0.
func MeasureCycles(ctx context.Context, st lock.Strategy, workers int, proxied bool, d time.Duration, n int64) (Cycles, error) {
	return measureCycles(ctx, st, workers, proxied, false, d, n)
}

// MeasureCyclesRecorded is MeasureCycles with the node record on (record.Recorder: MONITOR and expiry
// notifications on every node), to measure what keeping the servers' record costs the locks.
func MeasureCyclesRecorded(ctx context.Context, st lock.Strategy, workers int, proxied bool, d time.Duration) (Cycles, error) {
	return measureCycles(ctx, st, workers, proxied, true, d, 0)
}

// measureCycles is MeasureCycles and MeasureCyclesRecorded: fresh nodes, the record when recorded, the proxy when
// proxied, one locker per worker, then the cycles themselves.
func measureCycles(ctx context.Context, st lock.Strategy, workers int, proxied, recorded bool, d time.Duration, n int64) (Cycles, error) {
	res := Cycles{Strategy: st.Name(), Workers: workers, Proxied: proxied}
	sys, err := system.For(st)
	if err != nil {
		return res, err
	}
	be, err := sys.NewBackend(sys.Backends()[0])
	if err != nil {
		return res, err
	}
	nodes, err := be.Start(ctx, cluster.Spec{Nodes: 5})
	defer be.Stop(context.Background())
	if err != nil {
		return res, err
	}
	if rs, ok := sys.(system.Recorder); ok && recorded {
		stopRecord, err := startCyclesRecord(rs, nodes)
		if err != nil {
			return res, err
		}
		defer stopRecord()
	}
	addrs, closeProxy, err := cyclesAddrs(nodes, proxied)
	if err != nil {
		return res, err
	}
	defer closeProxy()
	lockers, closeClients, err := newCyclesLockers(sys, st, addrs, workers)
	if err != nil {
		return res, err
	}
	defer closeClients()
	res.Elapsed, res.Cycles, res.Errors = runCycles(ctx, lockers, d, n)
	if res.Cycles == 0 {
		return res, errors.New("no cycle completed")
	}
	return res, ctx.Err()
}

// startCyclesRecord keeps the servers' record of the cycles' keys in a temporary directory, so the measurement
// pays what a run with the record pays; the returned func stops it and removes the directory.
func startCyclesRecord(rs system.Recorder, nodes []cluster.Node) (func(), error) {
	dir, err := os.MkdirTemp("", "redlock-harness-bench-")
	if err != nil {
		return nil, err
	}
	addrs := map[string]string{}
	for _, nd := range nodes {
		addrs[nd.Name] = nd.Addr
	}
	rec, err := rs.Record(filepath.Join(dir, history.NodeFile), history.NewClock(), addrs,
		func(k string) bool { return strings.HasPrefix(k, "cycles-") })
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return func() {
		rec.Close()
		os.RemoveAll(dir)
	}, nil
}

// cyclesAddrs is the address the lockers dial for each node: the node itself, or when proxied its link through a
// fresh embedded Toxiproxy, so the figure includes the proxy's hop. The returned func closes the proxy.
func cyclesAddrs(nodes []cluster.Node, proxied bool) ([]string, func(), error) {
	addrs := make([]string, len(nodes))
	for i, nd := range nodes {
		addrs[i] = nd.Addr
	}
	if !proxied {
		return addrs, func() {}, nil
	}
	nw, err := netem.New("")
	if err != nil {
		return nil, nil, err
	}
	for i, nd := range nodes {
		l, err := nw.AddLink("g1", nd.Name, nd.Addr)
		if err != nil {
			nw.Close()
			return nil, nil, err
		}
		addrs[i] = l.Addr()
	}
	return addrs, func() { nw.Close() }, nil
}

// newCyclesLockers gives every worker its own locker over its own clients, as separate processes would have; the
// returned func closes the clients.
func newCyclesLockers(sys system.System, st lock.Strategy, addrs []string, workers int) ([]lock.Locker, func(), error) {
	opts := lock.NewOptions(lock.WithTTL(5 * time.Second))
	lockers := make([]lock.Locker, workers)
	var clients []system.Clients
	closeAll := func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}
	for w := range lockers {
		cs, err := sys.Connect(system.ConnectConfig{Addrs: addrs, Name: fmt.Sprintf("cycles%d", w), TTL: opts.TTL})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		clients = append(clients, cs)
		if lockers[w], err = cs.Locker(st, opts); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return lockers, closeAll, nil
}

// runCycles drives every locker through acquire+release on its own key until d has passed (n <= 0) or n cycles
// are done in total, and returns the time taken, the cycles completed and the failed attempts.
func runCycles(ctx context.Context, lockers []lock.Locker, d time.Duration, n int64) (time.Duration, int64, int64) {
	var done, errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for w := range lockers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cycleLoop(ctx, lockers[w], fmt.Sprintf("cycles-%d", w), stop, n, &done, &errs)
		}()
	}
	if n <= 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		close(stop)
	}
	wg.Wait()
	return time.Since(start), done.Load(), errs.Load()
}

// cycleLoop is one worker: acquire and release key until stopped, cancelled, or the n cycles (n > 0) are done,
// counting completed cycles in done and failed ones in errs.
func cycleLoop(ctx context.Context, l lock.Locker, key string, stop <-chan struct{}, n int64, done, errs *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if n > 0 && done.Load() >= n {
			return
		}
		lease, err := l.Acquire(ctx, key)
		if err == nil {
			err = lease.Release(ctx)
		}
		if err != nil {
			errs.Add(1)
			continue
		}
		done.Add(1)
	}
}

var rpsRe = regexp.MustCompile(`(?m)^"?SET"?,\s*"?([0-9.]+)"?`)

// RedisBenchmarkSET runs redis-benchmark's SET test against a fresh local node with `clients` connections and
// returns its requests per second: the ceiling one Redis node offers on this machine.
func RedisBenchmarkSET(ctx context.Context, clients int) (float64, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0, errors.New("redis-benchmark not found (it comes with Debian's redis-tools package)")
	}
	be := &cluster.Local{}
	nodes, err := be.Start(ctx, cluster.Spec{Nodes: 1})
	defer be.Stop(context.Background())
	if err != nil {
		return 0, err
	}
	host, port, err := net.SplitHostPort(nodes[0].Addr)
	if err != nil {
		return 0, err
	}
	out, err := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-c", strconv.Itoa(clients), "-n", "100000", "-t", "set", "--csv").Output()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w", err)
	}
	m := rpsRe.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("redis-benchmark: cannot read %q", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
