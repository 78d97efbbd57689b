package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
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
	// Greedy clients work to the edge of their lease: each critical section lasts until GreedyMargin before the
	// lease's ValidUntil (as the lease stood at the read), without renewing, then checks and writes. An honest
	// lock passes; a lock that over-states its validity is caught, since its holder writes after its key expired.
	Greedy   bool
	Strategy lock.Strategy
	// System makes each worker's clients of the nodes and builds Strategy over them.
	System system.System
	// Backend is the run's backend, handed to System.Connect (credentials of servers the user runs).
	Backend cluster.Backend
	// Lock is the base lock options; each worker gets its own Rand derived from Seed.
	Lock lock.Options
	Seed int64
	// Fenced makes the resource enforce fencing tokens.
	Fenced bool
	// KeyPrefix goes before every lock key, on servers the run shares with others (an external backend).
	KeyPrefix string
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

	clients system.Clients
	locker  lock.Locker
	points  []string // every point of its lock protocol a failpoint can aim at
	// frozen holds back every read and write on the worker's connections while it is stalled.
	frozen  *freezer
	rng     *rand.Rand
	armed   atomic.Pointer[Failpoint]
	crashed atomic.Pointer[string] // the point where the worker died, once it has
	runCtx  context.Context
	cancel  context.CancelFunc
	holding atomic.Bool
	w       *Workload
}

// Failpoint is trouble waiting for a worker at a named point of its lock protocol (lock.Step... and
// lock.WorkerSteps), as etcd's robustness tests place failpoints with gofail: the worker freezes for Stall (the
// whole client: its connections carry nothing meanwhile, so a watchdog renewing in the background freezes with
// it), or dies there when Crash is set. It fires once, the next time the worker reaches the point.
type Failpoint struct {
	// Point is where the failpoint fires.
	Point string
	// Stall is how long the client freezes there.
	Stall time.Duration
	// Crash makes the worker die there instead: nothing after the point is sent, nothing is cleaned up.
	Crash bool
	// Fault names the fault that armed it, for the history.
	Fault string
}

// errCrashed is what a failpoint that crashes returns to the strategy: it aborts the operation at that point.
var errCrashed = errors.New("client crashed")

// GroupName is the scenario name of the i-th client group (0-based): g1, g2, …
func GroupName(i int) string { return fmt.Sprintf("g%d", i+1) }

// KeyName is the name of the i-th lock key.
func KeyName(i int) string { return fmt.Sprintf("k%d", i) }

// IsLockKey says whether a key on the servers belongs to the locks: a lock key (KeyName) or a fencing counter
// kept beside one (lock.FenceKeyPrefix + the key).
func IsLockKey(key string) bool { return LockKeys("")(key) }

// LockKeys says which keys belong to the locks of a run whose keys go under prefix.
func LockKeys(prefix string) func(string) bool {
	return func(key string) bool {
		key, ok := strings.CutPrefix(strings.TrimPrefix(key, lock.FenceKeyPrefix), prefix)
		return ok && isKeyName(key)
	}
}

func isKeyName(key string) bool {
	if len(key) < 2 || key[0] != 'k' {
		return false
	}
	for _, r := range key[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// New builds the workers, each with its own clients of the nodes (cfg.System.Connect) and its own locker.
// addrs(group) returns the addresses the group reaches the nodes at, in node order.
func New(cfg Config, addrs func(group int) []string, hist *history.Writer) (*Workload, error) {
	w := &Workload{cfg: cfg, hist: hist, res: NewResource(hist.Clock(), cfg.Fenced)}
	for g := 0; g < cfg.Groups; g++ {
		for i := 0; i < cfg.Workers; i++ {
			wk, err := w.newWorker(g, i, addrs(g))
			if err != nil {
				w.closeClients()
				return nil, err
			}
			w.workers = append(w.workers, wk)
		}
	}
	return w, nil
}

func (w *Workload) newWorker(g, i int, addrs []string) (*Worker, error) {
	cfg := w.cfg
	idx := uint64(g*cfg.Workers + i)
	wk := &Worker{
		Name:   fmt.Sprintf("g%dw%d", g+1, i+1),
		Group:  g,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 2*idx)),
		frozen: newFreezer(),
		w:      w,
		points: lock.StepsOf(cfg.Strategy),
	}
	var err error
	wk.clients, err = cfg.System.Connect(system.ConnectConfig{Addrs: addrs, Name: wk.Name, TTL: cfg.Lock.TTL,
		Dial: wk.frozen.dialer(max(cfg.Lock.TTL, time.Second)), Backend: cfg.Backend})
	if err != nil {
		return nil, fmt.Errorf("worker %s: %w", wk.Name, err)
	}
	opt := cfg.Lock
	opt.Rand = rand.New(rand.NewPCG(uint64(cfg.Seed), 2*idx+1))
	opt.Now = time.Now
	opt.Step = wk.step
	if wk.locker, err = wk.clients.Locker(cfg.Strategy, opt); err != nil {
		_ = wk.clients.Close()
		return nil, fmt.Errorf("worker %s: %w", wk.Name, err)
	}
	return wk, nil
}

func (w *Workload) closeClients() {
	for _, wk := range w.workers {
		_ = wk.clients.Close()
	}
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
// A failure is returned: no fault is in force yet, so a node that cannot be reached is a broken set-up. A ping
// that timed out is tried again until timeout: two dozen workers opening their connections at once on a small,
// busy machine (a PostgreSQL server forks a backend for each) can outlast one connection's own start-up timeout,
// and that is slowness, not a broken set-up; any other error (a refused connection) is returned at once.
func (w *Workload) Warm(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(w.workers))
	for _, wk := range w.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := warmOne(ctx, wk); err != nil {
				errs <- fmt.Errorf("worker %s could not reach the nodes before the run: %w", wk.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// warmOne pings wk's nodes until they answer, a ping fails other than by a timeout, or ctx ends.
func warmOne(ctx context.Context, wk *Worker) error {
	for {
		err := wk.clients.Ping(ctx)
		if err == nil || ctx.Err() != nil || !timedOut(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(warmRetry):
		}
	}
}

// warmRetry is the pause before Warm pings again after a ping timed out.
const warmRetry = 100 * time.Millisecond

// timedOut says whether err is a timeout (a deadline of the client's own, a network timeout), which Warm tries
// again, rather than a refusal.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Start runs every worker until ctx ends or Stop is called.
func (w *Workload) Start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	for _, wk := range w.workers {
		wctx, cancel := context.WithCancel(ctx)
		wk.cancel, wk.runCtx = cancel, wctx
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
	w.closeClients()
}

// Stall makes the worker freeze for d the next time it is between its validity check and its write: the moment
// no client-side check can cover (a GC pause, a VM freeze). d = 0 disarms it.
func (wk *Worker) Stall(d time.Duration) {
	if d <= 0 {
		wk.Disarm()
		return
	}
	wk.Arm(Failpoint{Point: lock.StepBeforeWrite, Stall: d, Fault: "client-stall"})
}

// Crash makes the worker die the next time it is about to write inside a critical section, holding the lock and
// never releasing it.
func (wk *Worker) Crash() {
	wk.Arm(Failpoint{Point: lock.StepBeforeWrite, Crash: true, Fault: "client-crash"})
}

// Arm sets a failpoint on the worker, in place of any armed before, and returns the function that removes it if
// it has not fired by then (and has not been replaced by another one).
func (wk *Worker) Arm(fp Failpoint) (disarm func()) {
	p := &fp
	wk.armed.Store(p)
	return func() { wk.armed.CompareAndSwap(p, nil) }
}

// Disarm removes whatever failpoint the worker has.
func (wk *Worker) Disarm() { wk.armed.Store(nil) }

// Has reports whether the worker's lock protocol passes point: a failpoint aimed elsewhere would never fire.
func (wk *Worker) Has(point string) bool { return slices.Contains(wk.points, point) }

// Points lists the points of the worker's lock protocol, the workload's own first.
func (wk *Worker) Points() []string { return append([]string(nil), wk.points...) }

// Holding reports whether the worker currently holds a lease.
func (wk *Worker) Holding() bool { return wk.holding.Load() }

// Crashed reports where the worker died, "" while it lives.
func (wk *Worker) Crashed() string {
	if p := wk.crashed.Load(); p != nil {
		return *p
	}
	return ""
}

// step is the worker's lock.Options.Step, called by its strategy at the strategy's points and by the workload at
// the worker's: it fires the armed failpoint when the point is the one it waits for.
func (wk *Worker) step(_ context.Context, point string) error {
	fp := wk.armed.Load()
	if fp == nil || fp.Point != point || !wk.armed.CompareAndSwap(fp, nil) {
		return nil
	}
	if fp.Crash {
		wk.crashed.Store(&point)
		wk.w.hist.Record(history.Event{Ev: history.EvFault, Name: fp.Fault, Phase: history.PhaseFire, Targets: []string{wk.Name},
			Note: "crashed at " + point})
		return errCrashed
	}
	wk.w.hist.Record(history.Event{Ev: history.EvFault, Name: fp.Fault, Phase: history.PhaseFire, Targets: []string{wk.Name},
		Note: fmt.Sprintf("stalled %s at %s", fp.Stall, point)})
	// A paused process does not honour its operations' deadlines; only the run's end cuts the stall short.
	wk.frozen.freeze()
	sleep(wk.runCtx, fp.Stall)
	wk.frozen.thaw()
	return nil
}

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
		key := w.cfg.KeyPrefix + KeyName(wk.rng.IntN(w.cfg.Keys))
		hold := w.draw(wk.rng, w.cfg.HoldMin, w.cfg.HoldMax)
		think := w.draw(wk.rng, w.cfg.ThinkMin, w.cfg.ThinkMax)

		lease := w.acquire(ctx, wk, key)
		if wk.Crashed() != "" {
			w.die(wk)
			return
		}
		if lease != nil {
			w.acquired.Add(1)
			wk.holding.Store(true)
			if w.criticalSection(ctx, wk, key, lease, hold, ttl) || w.release(ctx, wk, key, lease, ttl) {
				w.die(wk)
				return
			}
			wk.holding.Store(false)
		}
		sleep(ctx, think)
	}
}

// die ends a crashed worker as a crashed process ends: its connections close, so a watchdog renewing on them
// fails from now on, and it never releases nor comes back.
func (w *Workload) die(wk *Worker) {
	_ = wk.clients.Close()
}

// crashEvent completes operation op (id) of a worker that died at a failpoint.
func crashEvent(wk *Worker, ev string, id int64, op, key, what string) history.Event {
	return history.Event{Ev: ev, ID: id, Op: op, Worker: wk.Name, Key: key, Reason: history.ReasonClientCrash,
		Error: "crashed at " + wk.Crashed() + what}
}

func (w *Workload) acquire(ctx context.Context, wk *Worker, key string) lock.Lease {
	id := w.hist.NewID()
	w.hist.Record(history.Event{Ev: history.EvInvoke, ID: id, Op: history.OpAcquire, Worker: wk.Name, Key: key})
	actx, cancel := context.WithTimeout(ctx, w.cfg.Lock.AcquireTimeout)
	lease, err := wk.locker.Acquire(actx, key)
	cancel()
	switch {
	case wk.Crashed() != "":
		// Whatever the strategy had sent stays on the servers: for the client, the outcome is unknown.
		w.hist.Record(crashEvent(wk, history.EvInfo, id, history.OpAcquire, key, " inside acquire"))
		return nil
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

// holdPlan is how a critical section uses its lease: how long it works and whether the worker renews meanwhile.
func (w *Workload) holdPlan(lease lock.Lease, hold, ttl time.Duration) (end time.Time, renew bool) {
	selfRenewing := false
	if sr, ok := lease.(lock.SelfRenewing); ok {
		selfRenewing = sr.SelfRenewing()
	}
	if w.cfg.Greedy {
		return lease.ValidUntil().Add(-GreedyMargin), false
	}
	return time.Now().Add(hold), hold > ttl/2 && !selfRenewing
}

// GreedyMargin is how long before its lease's ValidUntil a greedy client writes: enough for its own check and
// write, which take microseconds in process, and nothing more.
const GreedyMargin = 5 * time.Millisecond

// criticalSection reads, works (renewing as needed), checks and writes. It reports whether the worker crashed.
func (w *Workload) criticalSection(ctx context.Context, wk *Worker, key string, lease lock.Lease, hold, ttl time.Duration) bool {
	if wk.step(ctx, lock.StepAfterAcquire) != nil {
		rid := w.hist.NewID()
		w.hist.Record(history.Event{Ev: history.EvInvoke, ID: rid, Op: history.OpRelease, Worker: wk.Name, Key: key})
		w.hist.Record(crashEvent(wk, history.EvFail, rid, history.OpRelease, key, ", holding the lock: it is never released"))
		return true
	}
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
	crashed := func() bool {
		w.hist.Record(history.Event{Ev: history.EvInfo, ID: id, Op: history.OpCS, Worker: wk.Name, Key: key,
			Read: history.Int(read), Reason: history.ReasonClientCrash, Error: "crashed at " + wk.Crashed() + ", holding the lock"})
		return true
	}
	switch w.work(ctx, wk, key, lease, hold, ttl) {
	case workStopped:
		fail(history.ReasonStopped)
		return false
	case workCrashed:
		return crashed()
	case workLost:
		fail(history.ReasonLeaseLost)
		return false
	}
	if !w.cfg.Careless && !time.Now().Before(lease.ValidUntil()) {
		fail(history.ReasonLeaseExpired)
		return false
	}
	// The window no client check can cover: after the check, before the write.
	if wk.step(ctx, lock.StepBeforeWrite) != nil {
		return crashed()
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

// How the work inside a critical section ended.
type workEnd int

const (
	workDone workEnd = iota
	workStopped
	workCrashed
	workLost
)

// work holds the lease for the section's work, renewing every TTL/3 when the plan says so, until the work is
// done, the run stops, the worker crashes, or the lease tells it the lock is lost.
func (w *Workload) work(ctx context.Context, wk *Worker, key string, lease lock.Lease, hold, ttl time.Duration) workEnd {
	var lostCh <-chan struct{}
	if ln, ok := lease.(lock.LossNotifier); ok {
		lostCh = ln.Lost()
	}
	end, renew := w.holdPlan(lease, hold, ttl)
	for {
		if wk.Crashed() != "" { // a watchdog's renewal crashed the client
			return workCrashed
		}
		left := time.Until(end)
		if left <= 0 {
			return workDone
		}
		step := left
		if renew && ttl/3 < step {
			step = ttl / 3
		}
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return workStopped
		case <-lostCh:
			t.Stop()
			return workLost
		case <-t.C:
		}
		if renew && time.Until(end) > 0 {
			if wk.step(ctx, lock.StepInRenewal) != nil {
				return workCrashed
			}
			lost := w.extend(ctx, wk, key, lease, ttl)
			if wk.Crashed() != "" {
				return workCrashed
			}
			if lost && !w.cfg.Careless {
				return workLost
			}
		}
	}
}

// extend renews the lease and reports whether the lock is definitely lost.
func (w *Workload) extend(ctx context.Context, wk *Worker, key string, lease lock.Lease, ttl time.Duration) bool {
	id := w.hist.NewID()
	w.hist.Record(history.Event{Ev: history.EvInvoke, ID: id, Op: history.OpExtend, Worker: wk.Name, Key: key})
	// Renewing after the lease has run out cannot help a careful client; give the call until then (at least a
	// few milliseconds, at most a TTL). A pause inside the renewal that outlasts the lease cuts the rest of it.
	timeout := min(max(time.Until(lease.ValidUntil()), 5*time.Millisecond), ttl)
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	err := lease.Extend(ectx)
	cancel()
	switch {
	case wk.Crashed() != "":
		w.hist.Record(crashEvent(wk, history.EvInfo, id, history.OpExtend, key, " inside the renewal"))
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

// release gives the lock up. It reports whether the worker crashed on the way (before the release, or inside it).
func (w *Workload) release(ctx context.Context, wk *Worker, key string, lease lock.Lease, ttl time.Duration) bool {
	id := w.hist.NewID()
	w.hist.Record(history.Event{Ev: history.EvInvoke, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key})
	if wk.step(ctx, lock.StepBeforeRelease) != nil {
		w.hist.Record(crashEvent(wk, history.EvFail, id, history.OpRelease, key, ": the lock is never released"))
		return true
	}
	// A release gets a TTL (after a TTL the lock is gone anyway), whatever the run's context says: a release left
	// half-done leaves locks behind. A client that pauses between the two commands of a release (GET, then DEL)
	// for longer than that sends no second command; a shorter pause that outlasts the key does the harm.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ttl)
	err := lease.Release(rctx)
	cancel()
	switch {
	case wk.Crashed() != "":
		w.hist.Record(crashEvent(wk, history.EvInfo, id, history.OpRelease, key, " inside release"))
		return true
	case err == nil:
		w.hist.Record(history.Event{Ev: history.EvOK, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key})
	case lock.IsDefinite(err):
		w.hist.Record(history.Event{Ev: history.EvFail, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key, Error: err.Error()})
	default:
		w.hist.Record(history.Event{Ev: history.EvInfo, ID: id, Op: history.OpRelease, Worker: wk.Name, Key: key, Error: err.Error()})
	}
	return false
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
