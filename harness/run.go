package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/harness/netem"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/harness/workload"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// ErrSetup wraps every error that kept the harness from running (exit code 2), as opposed to a verdict.
var ErrSetup = errors.New("harness could not run")

// RunConfig is what config.json records: everything needed to understand and replay the run.
type RunConfig struct {
	Scenario  *scenarios.Scenario `json:"scenario"`
	Strategy  string              `json:"strategy"`
	System    string              `json:"system"`
	Seed      int64               `json:"seed"`
	Duration  string              `json:"duration"`
	Backend   string              `json:"backend"`
	Fenced    bool                `json:"fenced"`
	Lock      lock.Options        `json:"lock"`
	Nodes     []cluster.Node      `json:"nodes"`
	Links     map[string]string   `json:"links"`
	Started   string              `json:"started"`
	GoVersion string              `json:"go_version"`
	Replay    string              `json:"replay"`
}

// LockOptions turns the scenario's lock settings into options.
func LockOptions(s *scenarios.Scenario, extra ...lock.Option) lock.Options {
	opts := []lock.Option{lock.WithTTL(s.TTL.D())}
	if s.Lock.AcquireTimeout > 0 {
		opts = append(opts, lock.WithAcquireTimeout(s.Lock.AcquireTimeout.D()))
	}
	if s.Lock.Retries > 0 {
		opts = append(opts, lock.WithRetries(s.Lock.Retries, s.Lock.RetryDelay.D()))
	} else if s.Lock.RetryDelay > 0 {
		opts = append(opts, lock.WithRetryDelay(s.Lock.RetryDelay.D()))
	}
	if s.Lock.NodeTimeout > 0 {
		opts = append(opts, lock.WithNodeTimeout(s.Lock.NodeTimeout.D()))
	}
	if s.Lock.DriftFactor > 0 {
		opts = append(opts, lock.WithDriftFactor(s.Lock.DriftFactor))
	}
	return lock.NewOptions(append(opts, extra...)...)
}

// Run executes one scenario against one strategy and judges it. A returned error means the harness could not run
// (it wraps ErrSetup) or the run was interrupted (it wraps context.Canceled; Result.Interrupted is set and the
// history is on disk). A violation is not an error: it is Result.Verdict.
//
// A run always ends: from the moment its workload starts it has its duration plus Config.Grace to stop, heal,
// judge and report (Ctrl-C: Grace from the interrupt). Past that the watchdog tears down what the run started,
// whatever is stuck, and the verdict is unknown, with the reason.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Scenario == nil || cfg.Strategy == nil {
		return Result{}, fmt.Errorf("%w: Config needs a Scenario and a Strategy", ErrSetup)
	}
	r := newRunner(cfg)
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := r.execute(ctx)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-r.wd.fired:
		return r.abandon()
	}
}

// runner is one run's state, shared by its steps, its teardown and its watchdog.
type runner struct {
	cfg     Config
	sc      *scenarios.Scenario
	total   time.Duration
	backend cluster.Backend
	sys     system.System
	fenced  bool
	opts    lock.Options
	started time.Time
	warn    func(string)
	wd      *watchdog

	mu       sync.Mutex
	res      Result
	hw       *history.Writer
	rec      system.NodeRecord
	clock    history.Clock
	settled  bool // the verdict was written by the run or by the watchdog: the other one leaves it alone
	cleanups []func()
	inflight int // cleanups being run, by the run or by the watchdog
}

func newRunner(cfg Config) *runner {
	sc := cfg.Scenario
	cfg.Strategy = sc.Strategy(cfg.Strategy) // the strategy's own parameters, when the scenario sets them
	r := &runner{cfg: cfg, sc: sc, total: sc.Duration.D(), backend: cfg.Backend, wd: newWatchdog()}
	if cfg.Duration > 0 {
		r.total = cfg.Duration
	}
	if r.cfg.OutDir == "" {
		r.cfg.OutDir = "results"
	}
	if r.cfg.CheckTimeout <= 0 {
		r.cfg.CheckTimeout = 60 * time.Second
	}
	if r.cfg.Grace <= 0 {
		r.cfg.Grace = DefaultGrace + r.cfg.CheckTimeout
	}
	if cfg.Fenced != nil {
		r.fenced = *cfg.Fenced
	} else if info, err := lock.Lookup(cfg.Strategy.Name()); err == nil {
		r.fenced = info.Fenced
	}
	warnings := cfg.Warnings
	if warnings == nil {
		warnings = os.Stderr
	}
	name := fmt.Sprintf("%s/%s seed %d", sc.Name, cfg.Strategy.Name(), cfg.Seed)
	var wmu sync.Mutex
	r.warn = func(msg string) {
		wmu.Lock()
		defer wmu.Unlock()
		fmt.Fprintf(warnings, "%s: %s\n", name, msg)
	}
	r.opts = LockOptions(sc, cfg.LockOptions...)
	r.res = Result{Scenario: sc.Name, Strategy: cfg.Strategy.Name(), Seed: cfg.Seed}
	return r
}

// ErrNotApplicable says the scenario asks for a fault the strategy's system (on this backend) cannot do: the run
// is refused before any node starts, with the reason, and a matrix cell made of such runs is n/a, not an error.
var ErrNotApplicable = errors.New("not applicable")

// resolveSystem finds the strategy's system (Config.System, else system.For) and makes its backend when the
// caller gave none (Config.BackendName, default the system's first).
func (r *runner) resolveSystem() error {
	r.sys = r.cfg.System
	if r.sys == nil {
		s, err := system.For(r.cfg.Strategy)
		if err != nil {
			return setupErr(err)
		}
		r.sys = s
	}
	if !r.sys.Takes(r.cfg.Strategy) {
		return setupErr(fmt.Errorf("strategy %q is not a strategy of the %s system", r.cfg.Strategy.Name(), r.sys.Name()))
	}
	if r.backend != nil {
		return nil
	}
	name := r.cfg.BackendName
	if name == "" {
		name = r.sys.Backends()[0]
	}
	be, err := r.sys.NewBackend(name)
	if err != nil {
		return fmt.Errorf("%w: %w: %v", ErrSetup, ErrNotApplicable, err)
	}
	r.backend = be
	return nil
}

// DefaultGrace is what a run gets past its duration, on top of Config.CheckTimeout, to stop its workers, heal
// its faults, stop its nodes and write its report, before the watchdog tears it down.
const DefaultGrace = 45 * time.Second

func setupErr(err error) error { return fmt.Errorf("%w: %v", ErrSetup, err) }

// execute is the run from start to verdict; every step started is undone by the deferred cleanups.
func (r *runner) execute(ctx context.Context) (res Result, err error) {
	defer r.runCleanups()
	if err := r.resolveSystem(); err != nil {
		return r.result(), err
	}
	// Refuse what the backend cannot do before anything starts.
	env := &fault.Env{Backend: r.backend, Groups: r.sc.Groups, Warn: r.warn}
	if _, err := fault.NewNemesis(env, nil, r.sc.Faults, r.cfg.Seed, r.total); err != nil {
		if errors.Is(err, cluster.ErrUnsupported) {
			return r.result(), fmt.Errorf("%w: %w: %v", ErrSetup, ErrNotApplicable, err)
		}
		return r.result(), setupErr(err)
	}
	r.started = time.Now()
	dir, err := runDir(r.cfg.OutDir, r.sc.Name, r.cfg.Strategy.Name(), r.cfg.Seed, r.started)
	if err != nil {
		return r.result(), setupErr(err)
	}
	r.mu.Lock()
	r.res.Dir = dir
	r.mu.Unlock()
	defer func() {
		// A run that never got as far as its history leaves no directory behind: nothing in it to re-judge.
		if err != nil {
			if _, serr := os.Stat(filepath.Join(dir, "history.jsonl")); os.IsNotExist(serr) {
				_ = os.RemoveAll(dir)
				r.mu.Lock()
				r.res.Dir = ""
				r.mu.Unlock()
				res.Dir = ""
			}
		}
	}()
	wl, nem, err := r.setup(ctx, env, dir)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			r.mu.Lock()
			r.res.Interrupted = true
			r.mu.Unlock()
		}
		return r.result(), err
	}
	if err := r.drive(ctx, wl, nem); err != nil {
		return r.result(), err
	}
	return r.judge(dir)
}

// setup starts the nodes and the network, writes config.json, opens the history and builds the workers and the
// nemesis.
func (r *runner) setup(ctx context.Context, env *fault.Env, dir string) (*workload.Workload, *fault.Nemesis, error) {
	nodes, err := r.backend.Start(ctx, ClusterSpec(r.sc))
	r.cleanup(func() { r.bounded("stop the nodes", func() error { return r.backend.Stop(context.Background()) }) })
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("run interrupted while its nodes started: %w", context.Canceled)
		}
		if errors.Is(err, cluster.ErrUnsupported) {
			return nil, nil, fmt.Errorf("%w: %w: %v", ErrSetup, ErrNotApplicable, err)
		}
		return nil, nil, setupErr(err)
	}
	env.Nodes = nodes
	nw, addrs, links, err := r.network(nodes)
	if err != nil {
		return nil, nil, setupErr(err)
	}
	env.Net = nw
	rcJSON, err := r.writeConfig(dir, nodes, links)
	if err != nil {
		return nil, nil, setupErr(err)
	}
	clock := history.NewClock()
	hw, err := history.Create(filepath.Join(dir, "history.jsonl"), clock, history.Header{
		Scenario: r.sc.Name, Strategy: r.cfg.Strategy.Name(), Seed: r.cfg.Seed, Started: r.started.UTC().Format(time.RFC3339Nano),
		MinCriticalSections: r.sc.MinCriticalSections, Fenced: r.fenced, Config: rcJSON,
	})
	if err != nil {
		return nil, nil, setupErr(err)
	}
	r.mu.Lock()
	r.hw, r.clock = hw, clock
	r.mu.Unlock()
	r.cleanup(func() { _ = hw.Close() })
	prefix := ""
	if kp, ok := r.backend.(cluster.KeyPrefixer); ok {
		prefix = kp.KeyPrefix()
	}
	_, shared := r.backend.(cluster.KeyPrefixer)
	if rs, ok := r.sys.(system.Recorder); ok && !r.cfg.NoNodeRecord && !shared {
		addrs := map[string]string{}
		for _, n := range nodes {
			addrs[n.Name] = n.Addr
		}
		rec, err := rs.Record(filepath.Join(dir, history.NodeFile), clock, addrs, workload.LockKeys(prefix))
		if err != nil {
			return nil, nil, setupErr(err)
		}
		env.Record = rec
		r.mu.Lock()
		r.rec = rec
		r.mu.Unlock()
		r.cleanup(func() { r.bounded("close the node record", rec.Close) })
	}
	sc := r.sc
	wcfg := workload.Config{
		Groups: sc.Groups, Workers: sc.Workers, Keys: sc.Keys,
		HoldMin: sc.Hold.Min.D(), HoldMax: sc.Hold.Max.D(), ThinkMin: sc.Think.Min.D(), ThinkMax: sc.Think.Max.D(),
		Careless: sc.Client == "careless", Greedy: sc.Client == "greedy", Strategy: r.cfg.Strategy, Lock: r.opts, Seed: r.cfg.Seed, Fenced: r.fenced,
		KeyPrefix: prefix, System: r.sys, Backend: r.backend,
	}
	wl, err := workload.New(wcfg, func(g int) []string { return addrs[g] }, hw)
	if err != nil {
		return nil, nil, setupErr(err)
	}
	r.cleanup(func() { wl.Stop(0) })
	env.Workload = wl
	nem, err := fault.NewNemesis(env, hw, r.sc.Faults, r.cfg.Seed, r.total)
	if err != nil {
		return nil, nil, setupErr(err)
	}
	if err := wl.Warm(ctx, 30*time.Second); err != nil {
		return nil, nil, setupErr(err)
	}
	return wl, nem, nil
}

// network starts the embedded Toxiproxy and one link per (client group, node); it returns each group's addresses
// of the nodes, in node order, and every link's address by name.
func (r *runner) network(nodes []cluster.Node) (*netem.Net, [][]string, map[string]string, error) {
	nw, err := netem.New(r.cfg.ToxiproxyAPI)
	if err != nil {
		return nil, nil, nil, err
	}
	r.cleanup(func() { r.bounded("stop the network", nw.Close) })
	upstream := map[string]string{}
	for _, n := range nodes {
		upstream[n.Name] = n.Addr
		if ClusterSpec(r.sc).Replicas {
			// A failover moves the node to its replica's address: the links go through a front that moves
			// with it, so that no proxy has to give up its port mid-run.
			if upstream[n.Name], err = nw.AddFront(n.Name, n.Addr); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	links := map[string]string{}
	addrs := make([][]string, r.sc.Groups)
	for g := range r.sc.Groups {
		for _, n := range nodes {
			l, err := nw.AddLink(workload.GroupName(g), n.Name, upstream[n.Name])
			if err != nil {
				return nil, nil, nil, err
			}
			addrs[g] = append(addrs[g], l.Addr())
			links[l.Name] = l.Addr()
		}
	}
	return nw, addrs, links, nil
}

// writeConfig writes config.json, everything needed to understand and replay the run, and returns it.
func (r *runner) writeConfig(dir string, nodes []cluster.Node, links map[string]string) ([]byte, error) {
	name := r.cfg.Strategy.Name()
	rc := RunConfig{
		Scenario: r.sc, Strategy: name, System: r.sys.Name(), Seed: r.cfg.Seed, Duration: r.total.String(), Backend: r.backend.Name(),
		Fenced: r.fenced, Lock: r.opts, Nodes: nodes, Links: links, Started: r.started.UTC().Format(time.RFC3339Nano),
		GoVersion: runtime.Version(),
		Replay: fmt.Sprintf("redlock-harness run --scenario %s --strategy %s --seed %d --duration %s --backend %s",
			r.sc.Name, name, r.cfg.Seed, r.total, r.backend.Name()),
	}
	rcJSON, _ := json.MarshalIndent(rc, "", "  ")
	return rcJSON, os.WriteFile(filepath.Join(dir, "config.json"), append(rcJSON, '\n'), 0o644)
}

// drive runs the workload and the fault schedule for the run's duration (or until ctx ends), then stops them,
// heals every fault and closes the history.
func (r *runner) drive(ctx context.Context, wl *workload.Workload, nem *fault.Nemesis) error {
	runCtx, stopRun := context.WithCancel(ctx)
	r.cleanup(stopRun)
	r.clock.Restart() // the run's time starts with its workload and fault schedule, not with the set-up before them
	wl.Start(runCtx)
	nem.Start(runCtx)
	r.wd.arm(r.total+r.cfg.Grace, fmt.Sprintf("the run did not end within its duration (%s) plus its grace (%s)", r.total, r.cfg.Grace))
	res := r.result()
	prog := startProgress(r.cfg, res, r.total, r.clock, wl, nem)
	lag := startLagMonitor(runCtx)
	timer := time.NewTimer(r.total)
	interrupted, early := false, false
	var violated <-chan struct{}
	if r.cfg.StopOnViolation {
		violated = watchViolation(runCtx, wl)
	}
	select {
	case <-timer.C:
	case <-violated:
		early = true
	case <-ctx.Done():
		interrupted = true
		r.wd.arm(r.cfg.Grace, fmt.Sprintf("the run did not stop within %s of its interruption", r.cfg.Grace))
	}
	timer.Stop()
	r.mu.Lock()
	r.res.Interrupted, r.res.StoppedEarly = interrupted, early
	r.res.Elapsed = time.Duration(r.clock.Now())
	r.mu.Unlock()
	r.mu.Lock()
	r.res.Lag = lag.stop()
	r.mu.Unlock()
	stopRun()
	nemErr := nem.Stop()
	wl.Stop(2*r.opts.TTL + 5*time.Second)
	prog.stop()
	if err := r.hw.Close(); err != nil {
		return setupErr(fmt.Errorf("history: %w", err))
	}
	if r.rec != nil {
		r.bounded("close the node record", r.rec.Close)
	}
	if interrupted {
		return fmt.Errorf("run interrupted: %w", context.Canceled)
	}
	if nemErr != nil {
		return setupErr(fmt.Errorf("nemesis: %w", nemErr))
	}
	return nil
}

// watchViolation closes the returned channel once the resource has seen a lost update: the pair that lost it
// has written by then, so the history holds the whole counterexample.
func watchViolation(ctx context.Context, wl *workload.Workload) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if wl.Resource().LostUpdates() > 0 {
					close(c)
					return
				}
			}
		}
	}()
	return c
}

// judge reads the history back, checks it and writes verdict.json and the report, unless the watchdog has
// already settled the run.
func (r *runner) judge(dir string) (Result, error) {
	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return r.result(), setupErr(err)
	}
	opts := checker.Options{Timeout: r.cfg.CheckTimeout}
	if r.rec != nil {
		if opts.Nodes, err = history.ReadNodes(filepath.Join(dir, history.NodeFile)); err != nil {
			return r.result(), setupErr(err)
		}
	}
	check := checker.Check(h, opts)
	if lag := r.result().Lag; lag.Overloaded(r.opts.NodeTimeout) {
		note := fmt.Sprintf("the machine was overloaded during the run (%s, against a per-node timeout of %s): "+
			"timeouts and stalls may be the harness's own; run fewer at once (--parallel)", lag, r.opts.NodeTimeout)
		check.Notes = append(check.Notes, note)
		if check.Verdict == checker.Unknown {
			check.Reason += "; " + note
		}
		check.Liveness.Distrust("the machine was overloaded, so the stall may be the harness's")
	}
	if !r.settle() {
		return r.result(), nil // too late: the watchdog has torn the run down and judged it
	}
	r.mu.Lock()
	r.res.Check, r.res.Verdict = check, check.Verdict
	r.mu.Unlock()
	if err := WriteVerdict(dir, check); err != nil {
		return r.result(), setupErr(err)
	}
	if err := WriteReport(dir, h, check); err != nil {
		return r.result(), setupErr(err)
	}
	// The paired operations were for the page; a matrix holds thousands of results and needs none of them.
	r.mu.Lock()
	r.res.Check.Ops = nil
	r.mu.Unlock()
	_ = updateLatest(dir)
	return r.result(), nil
}

func (r *runner) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res
}

// settle claims the right to write the run's verdict; false when the watchdog has claimed it first.
func (r *runner) settle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled {
		return false
	}
	r.settled = true
	return true
}

func (r *runner) cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// runCleanups undoes every step started, in reverse order; each runs once, whether the run or the watchdog
// gets to it first.
func (r *runner) runCleanups() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.inflight++
		r.mu.Unlock()
		f()
		r.mu.Lock()
		r.inflight--
		r.mu.Unlock()
	}
}

// TeardownBound bounds each teardown step (stopping the nodes, the network): a step that outlives it is left
// behind with a warning, so that a run always ends.
const TeardownBound = 30 * time.Second

// bounded runs one teardown step within TeardownBound.
func (r *runner) bounded(what string, f func() error) {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			r.warn(fmt.Sprintf("%s: %v", what, err))
		}
	case <-time.After(TeardownBound):
		r.warn(fmt.Sprintf("%s did not finish within %s: left behind", what, TeardownBound))
	}
}

// abandon is the watchdog's way out of a run that did not end in time: it tears down whatever the run started
// (each step bounded), closes the history, and settles the verdict as unknown with the reason.
func (r *runner) abandon() (Result, error) {
	reason := r.wd.reason()
	r.warn(reason + ": tearing it down")
	// The verdict is the watchdog's from the moment it fires: tearing the run down (its workers stopped, its
	// connections closed) would otherwise let the run's own judging, unblocked by it, claim a verdict the run did
	// not earn within its grace.
	claimed := r.settle()
	r.runCleanups()
	// A step the run itself had begun is waited for too (each is bounded), so that nothing is left running.
	for deadline := time.Now().Add(TeardownBound); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r.mu.Lock()
		busy := r.inflight
		r.mu.Unlock()
		if busy == 0 {
			break
		}
	}
	res := r.result()
	if !claimed {
		return res, nil // the run had written its verdict before the watchdog fired
	}
	check := checker.Result{Verdict: checker.Unknown, Reason: reason + "; torn down by the watchdog",
		Scenario: res.Scenario, Strategy: res.Strategy, Seed: res.Seed}
	res.Check, res.Verdict = check, checker.Unknown
	if res.Dir != "" {
		if b, err := json.MarshalIndent(check, "", "  "); err == nil {
			_ = os.WriteFile(filepath.Join(res.Dir, "verdict.json"), append(b, '\n'), 0o644)
		}
	}
	r.mu.Lock()
	r.res = res
	r.mu.Unlock()
	return res, nil
}

// watchdog fires once, at the earliest deadline it was armed with.
type watchdog struct {
	mu     sync.Mutex
	at     time.Time
	why    string
	timer  *time.Timer
	fired  chan struct{}
	closed bool
}

func newWatchdog() *watchdog { return &watchdog{fired: make(chan struct{})} }

// arm sets the deadline to d from now, unless an earlier one is already set.
func (w *watchdog) arm(d time.Duration, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := time.Now().Add(d)
	if w.closed || (!w.at.IsZero() && !at.Before(w.at)) {
		return
	}
	w.at, w.why = at, why
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(d, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.closed {
			w.closed = true
			close(w.fired)
		}
	})
}

func (w *watchdog) reason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why
}

// WriteVerdict writes verdict.json and porcupine's visualisation into a run directory.
func WriteVerdict(dir string, r checker.Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "verdict.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return r.WriteVisualization(filepath.Join(dir, "linearizability.html"))
}

func runDir(root, scenario, strategy string, seed int64, t time.Time) (string, error) {
	base := filepath.Join(root, scenario, strategy)
	name := fmt.Sprintf("%s-seed%d", t.Format("20060102-150405"), seed)
	for i := 0; ; i++ {
		dir := filepath.Join(base, name)
		if i > 0 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", err
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !os.IsExist(err) || i > 100 {
			return "", err
		}
	}
}

// updateLatest points <scenario>/<strategy>/latest at the run directory.
func updateLatest(dir string) error {
	link := filepath.Join(filepath.Dir(dir), "latest")
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// ClusterSpec says what the scenario needs of its nodes: its size and persistence, and whatever its faults ask for
// before the nodes start (replicas to fail over to, a fake clock, clock rates), each fault saying it for itself
// (fault.Needer).
func ClusterSpec(sc *scenarios.Scenario) cluster.Spec {
	spec := cluster.Spec{Nodes: sc.Nodes, Persistence: sc.Persistence}
	for _, f := range sc.Faults {
		if n, ok := f.Fault.(fault.Needer); ok {
			n.Needs(&spec)
		}
	}
	return spec
}
