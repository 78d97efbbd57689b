package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
)

// Config says what the workers do.
type Config struct {
	Groups, Workers, Keys int
	// HoldMin/HoldMax bound the work inside a critical section; ThinkMin/ThinkMax the pause between sections.
	HoldMin, HoldMax   time.Duration
	ThinkMin, ThinkMax time.Duration
	// Careless clients never check their lease's validity before writing.
	Careless bool
	Strategy lock.Strategy
	// Lock is the base lock options; each worker gets its own Rand derived from Seed.
	Lock lock.Options
	Seed int64
	// Fenced makes the resource enforce fencing tokens.
	Fenced bool
}

// Workload is the set of workers of one run.
type Workload struct {
	cfg     Config
	hist    *history.Writer
	res     *Resource
	workers []*Worker
	wg      sync.WaitGroup
	cancel  context.CancelFunc

	written, abandoned, acquired atomic.Int64
}

// Worker is one lock client: its own connections (one per node, through its group's links), its own lock.
type Worker struct {
	// Name is g<group>w<index>, e.g. g1w3.
	Name string
	// Group is the 0-based client group.
	Group int

	clients []redis.UniversalClient
	locker  lock.Locker
	// frozen holds back every read and write on the worker's connections while it is stalled.
	frozen  *freezer
	rng     *rand.Rand
	stall   atomic.Int64
	crash   atomic.Bool
	cancel  context.CancelFunc
	holding atomic.Bool
}

// GroupName is the scenario name of the i-th client group (0-based): g1, g2, …
func GroupName(i int) string { return fmt.Sprintf("g%d", i+1) }

// KeyName is the name of the i-th lock key.
func KeyName(i int) string { return fmt.Sprintf("k%d", i) }

// New builds the workers. addrs(group) returns the addresses the group reaches the nodes at, in node order.
func New(cfg Config, addrs func(group int) []string, hist *history.Writer) *Workload {
	w := &Workload{cfg: cfg, hist: hist, res: NewResource(hist.Clock(), cfg.Fenced)}
	for g := 0; g < cfg.Groups; g++ {
		for i := 0; i < cfg.Workers; i++ {
			idx := uint64(g*cfg.Workers + i)
			wk := &Worker{
				Name:   fmt.Sprintf("g%dw%d", g+1, i+1),
				Group:  g,
				rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 2*idx)),
				frozen: newFreezer(),
			}
			for _, a := range addrs(g) {
				wk.clients = append(wk.clients, newClient(a, cfg.Lock.TTL, wk.frozen))
			}
			opt := cfg.Lock
			opt.Rand = rand.New(rand.NewPCG(uint64(cfg.Seed), 2*idx+1))
			opt.Now = time.Now
			wk.locker = cfg.Strategy.New(wk.clients, opt)
			w.workers = append(w.workers, wk)
		}
	}
	return w
}

// NewClient is the go-redis client every worker uses for one node: no driver retries, of commands or of dials (the
// harness, not the driver, decides what is retried) and context deadlines honoured, so a strategy's per-node timeout is real.
func NewClient(addr string, ttl time.Duration) *redis.Client { return newClient(addr, ttl, nil) }

// newClient is NewClient whose connections wait out the freezes of f (nil: never frozen).
func newClient(addr string, ttl time.Duration, f *freezer) *redis.Client {
	opt := &redis.Options{
		Addr:                  addr,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		PoolSize:              4,
		DialTimeout:           max(ttl, time.Second),
		DialerRetries:         1, // no hidden dial retries either: go-redis would otherwise try 5 times
		Protocol:              2, // RESP2: a new connection sends its first command at once, no HELLO round trip first
		ReadTimeout:           max(2*ttl, 2*time.Second),
		WriteTimeout:          max(2*ttl, 2*time.Second),
		DisableIdentity:       true,
	}
	if f != nil {
		opt.Dialer = f.dialer(opt.DialTimeout)
	}
	return redis.NewClient(opt)
}

// Resource returns the protected resource.
func (w *Workload) Resource() *Resource { return w.res }

// Workers returns every worker.
func (w *Workload) Workers() []*Worker { return w.workers }

// Worker finds a worker by name.
func (w *Workload) Worker(name string) *Worker {
	for _, wk := range w.workers {
		if wk.Name == name {
			return wk
		}
	}
	return nil
}

// Written is the number of critical sections that wrote so far.
func (w *Workload) Written() int64 { return w.written.Load() }

// Abandoned is the number of critical sections that gave up their write.
func (w *Workload) Abandoned() int64 { return w.abandoned.Load() }

// Warm opens one connection from every worker to every node before the run starts, as a long-running service
// has its connections open before it takes a lock. Without it every worker dials every node inside its first
// acquire, under the strategy's per-node timeout: runs started side by side on a small machine then dial
// hundreds of connections at once, the dials outgrow Redlock's 50 ms per-node timeout, and each timed-out
// connection is dropped and dialled again on the next try, so the multi-node locks never get a first majority.
// A failure is returned: no fault is in force yet, so a node that cannot be reached is a broken set-up.
func (w *Workload) Warm(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for _, wk := range w.workers {
		for i, c := range wk.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Ping(ctx).Err(); err != nil {
					select {
					case errs <- fmt.Errorf("worker %s could not reach node %d before the run: %w", wk.Name, i+1, err):
					default:
					}
				}
			}()
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// Start runs every worker until ctx ends or Stop is called.
func (w *Workload) Start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	for _, wk := range w.workers {
		wctx, cancel := context.WithCancel(ctx)
		wk.cancel = cancel
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.loop(wctx, wk)
		}()
	}
}

// Stop ends every worker and waits up to timeout for them to return, then closes their connections.
func (w *Workload) Stop(timeout time.Duration) {
	if w.cancel != nil {
		w.cancel()
	}
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	for _, wk := range w.workers {
		for _, c := range wk.clients {
			_ = c.Close()
		}
	}
}

// Stall makes the worker freeze for d the next time it is between its validity check and its write: the moment
// no client-side check can cover (a GC pause, a VM freeze). The whole client freezes, not just the worker's
// goroutine: nothing crosses its connections meanwhile, so a watchdog renewing its lease in the background
// stalls too, as in a paused process.
func (wk *Worker) Stall(d time.Duration) { wk.stall.Store(int64(d)) }

// Crash makes the worker die at its next step inside a critical section, holding the lock and never releasing it.
func (wk *Worker) Crash() { wk.crash.Store(true) }

// Holding reports whether the worker currently holds a lease.
func (wk *Worker) Holding() bool { return wk.holding.Load() }

func (w *Workload) draw(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

func validNS(t time.Time) *int64 { return history.Int(int64(time.Until(t))) }

func (w *Workload) loop(ctx context.Context, wk *Worker) {
	ttl := w.cfg.Lock.TTL
	for ctx.Err() == nil {
		key := KeyName(wk.rng.IntN(w.cfg.Keys))
		hold := w.draw(wk.rng, w.cfg.HoldMin, w.cfg.HoldMax)
		think := w.draw(wk.rng, w.cfg.ThinkMin, w.cfg.ThinkMax)

		lease := w.acquire(ctx, wk, key)
		if lease != nil {
			w.acquired.Add(1)
			wk.holding.Store(true)
			crashed := w.criticalSection(ctx, wk, key, lease, hold, ttl)
			if crashed {
				return
			}
			w.release(ctx, wk, key, lease, ttl)
			wk.holding.Store(false)
		}
		sleep(ctx, think)
	}
}

func (w *Workload) acquire(ctx context.Context, wk *Worker, key string) lock.Lease {
	id := w.hist.NewID()
	w.hist.Record(history.Event{Ev: history.EvInvoke, ID: id, Op: history.OpAcquire, Worker: wk.Name, Key: key})
	actx, cancel := context.WithTimeout(ctx, w.cfg.Lock.AcquireTimeout)
	lease, err := wk.locker.Acquire(actx, key)
	cancel()
	switch {
	case err == nil:
		w.hist.Record(history.Event{Ev: history.EvOK, ID: id, Op: history.OpAcquire, Worker: wk.Name, Key: key,
			Fence: lease.Fence(), ValidNS: validNS(lease.ValidUntil())})
		return lease
	case lock.IsDefinite(err):
		w.hist.Record(history.Event{Ev: history.EvFail, ID: id, Op: history.OpAcquire, Worker: wk.Name, Key: key, Error: err.Error()})
	default:
		w.hist.Record(history.Event{Ev: history.EvInfo, ID: id, Op: history.OpAcquire, Worker: wk.Name, Key: key, Error: err.Error()})
	}
	return nil
}

// criticalSection reads, works (renewing as needed), checks and writes. It reports whether the worker crashed.
func (w *Workload) criticalSection(ctx context.Context, wk *Worker, key string, lease lock.Lease, hold, ttl time.Duration) bool {
	id := w.hist.NewID()
	read, tRead, rerr := w.res.Read(key, lease.Fence())
	w.hist.Record(history.Event{T: tRead, Ev: history.EvInvoke, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
		Fence: lease.Fence(), ValidNS: validNS(lease.ValidUntil())})
	if errors.Is(rerr, ErrFenced) {
		// A newer holder has already been here: the stale holder's section ends before it read anything.
		w.abandoned.Add(1)
		w.hist.Record(history.Event{T: tRead, Ev: history.EvFail, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
			Fence: lease.Fence(), ValidNS: validNS(lease.ValidUntil()), Reason: history.ReasonFenced})
		return false
	}
	fail := func(reason string) {
		w.abandoned.Add(1)
		w.hist.Record(history.Event{Ev: history.EvFail, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
			Read: history.Int(read), Fence: lease.Fence(), ValidNS: validNS(lease.ValidUntil()), Reason: reason})
	}

	var lostCh <-chan struct{}
	if ln, ok := lease.(lock.LossNotifier); ok {
		lostCh = ln.Lost()
	}
	selfRenewing := false
	if sr, ok := lease.(lock.SelfRenewing); ok {
		selfRenewing = sr.SelfRenewing()
	}
	renew := hold > ttl/2 && !selfRenewing
	lost := false
	end := time.Now().Add(hold)
	for !lost {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		step := left
		if renew && ttl/3 < step {
			step = ttl / 3
		}
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			fail(history.ReasonStopped)
			return false
		case <-lostCh:
			t.Stop()
			lost = true
			continue
		case <-t.C:
		}
		if renew && time.Until(end) > 0 {
			if w.extend(ctx, wk, key, lease, ttl) && !w.cfg.Careless {
				lost = true
			}
		}
	}
	if wk.crash.Load() {
		w.hist.Record(history.Event{Ev: history.EvInfo, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
			Read: history.Int(read), Reason: "client-crash", Error: "worker crashed holding the lock"})
		// A crashed process's connections close with it: a watchdog renewing on them fails from now on.
		for _, c := range wk.clients {
			_ = c.Close()
		}
		return true
	}
	if lost {
		fail(history.ReasonLeaseLost)
		return false
	}
	if !w.cfg.Careless && !time.Now().Before(lease.ValidUntil()) {
		fail(history.ReasonLeaseExpired)
		return false
	}
	// The window no client check can cover: after the check, before the write.
	if d := time.Duration(wk.stall.Swap(0)); d > 0 {
		wk.frozen.freeze()
		sleep(context.Background(), d)
		wk.frozen.thaw()
	}
	tWrite, err := w.res.Write(key, read+1, lease.Fence())
	if errors.Is(err, ErrFenced) {
		w.abandoned.Add(1)
		w.hist.Record(history.Event{T: tWrite, Ev: history.EvFail, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
			Read: history.Int(read), Fence: lease.Fence(), ValidNS: validNS(lease.ValidUntil()), Reason: history.ReasonFenced})
		return false
	}
	w.written.Add(1)
	w.hist.Record(history.Event{T: tWrite, Ev: history.EvOK, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
		Read: history.Int(read), Wrote: history.Int(read + 1), Fence: lease.Fence(), ValidNS: validNS(lease.ValidUntil())})
	return false
}

// extend renews the lease and reports whether the lock is definitely lost.
func (w *Workload) extend(ctx context.Context, wk *Worker, key string, lease lock.Lease, ttl time.Duration) bool {
	id := w.hist.NewID()
	w.hist.Record(history.Event{Ev: history.EvInvoke, ID: id, Op: history.OpExtend, Worker: wk.Name, Key: key})
	// Renewing after the lease has run out cannot help a careful client; give the call until then (at least a
	// few milliseconds, at most a TTL).
	timeout := min(max(time.Until(lease.ValidUntil()), 5*time.Millisecond), ttl)
	ectx, cancel := context.WithTimeout(ctx, timeout)
	err := lease.Extend(ectx)
	cancel()
	switch {
	case err == nil:
		w.hist.Record(history.Event{Ev: history.EvOK, ID: id, Op: history.OpExtend, Worker: wk.Name, Key: key, ValidNS: validNS(lease.ValidUntil())})
	case lock.IsDefinite(err):
		w.hist.Record(history.Event{Ev: history.EvFail, ID: id, Op: history.OpExtend, Worker: wk.Name, Key: key, Error: err.Error()})
		return true
	default:
		w.hist.Record(history.Event{Ev: history.EvInfo, ID: id, Op: history.OpExtend, Worker: wk.Name, Key: key, Error: err.Error()})
	}
	return false
}

func (w *Workload) release(ctx context.Context, wk *Worker, key string, lease lock.Lease, ttl time.Duration) {
	id := w.hist.NewID()
	w.hist.Record(history.Event{Ev: history.EvInvoke, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key})
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ttl)
	err := lease.Release(rctx)
	cancel()
	switch {
	case err == nil:
		w.hist.Record(history.Event{Ev: history.EvOK, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key})
	case lock.IsDefinite(err):
		w.hist.Record(history.Event{Ev: history.EvFail, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key, Error: err.Error()})
	default:
		w.hist.Record(history.Event{Ev: history.EvInfo, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key, Error: err.Error()})
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
