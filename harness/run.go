package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/harness/netem"
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
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if cfg.Scenario == nil || cfg.Strategy == nil {
		return res, fmt.Errorf("%w: Config needs a Scenario and a Strategy", ErrSetup)
	}
	sc := cfg.Scenario
	total := sc.Duration.D()
	if cfg.Duration > 0 {
		total = cfg.Duration
	}
	if cfg.OutDir == "" {
		cfg.OutDir = "results"
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 60 * time.Second
	}
	backend := cfg.Backend
	if backend == nil {
		backend = &cluster.Local{}
	}
	fenced := false
	if cfg.Fenced != nil {
		fenced = *cfg.Fenced
	} else if info, err := lock.Lookup(cfg.Strategy.Name()); err == nil {
		fenced = info.Fenced
	}
	res = Result{Scenario: sc.Name, Strategy: cfg.Strategy.Name(), Seed: cfg.Seed}
	setup := func(err error) error { return fmt.Errorf("%w: %v", ErrSetup, err) }

	// Refuse what the backend cannot do before anything starts.
	env := &fault.Env{Backend: backend, Scenario: sc}
	if _, err := fault.NewNemesis(env, nil, cfg.Seed, total); err != nil {
		return res, setup(err)
	}

	started := time.Now()
	dir, err := runDir(cfg.OutDir, sc.Name, cfg.Strategy.Name(), cfg.Seed, started)
	if err != nil {
		return res, setup(err)
	}
	res.Dir = dir
	defer func() {
		// A run that never got as far as its history leaves no directory behind: nothing in it to re-judge.
		if err != nil {
			if _, serr := os.Stat(filepath.Join(dir, "history.jsonl")); os.IsNotExist(serr) {
				_ = os.RemoveAll(dir)
				res.Dir = ""
			}
		}
	}()

	// Everything started from here on is stopped by the deferred cleanups, in reverse order, on every path.
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	nodes, err := backend.Start(ctx, ClusterSpec(sc))
	cleanups = append(cleanups, func() { _ = backend.Stop(context.Background()) })
	if err != nil {
		if ctx.Err() != nil {
			res.Interrupted = true
			return res, fmt.Errorf("run interrupted while its nodes started: %w", context.Canceled)
		}
		return res, setup(err)
	}
	env.Nodes = nodes
	nw, err := netem.New(cfg.ToxiproxyAPI)
	if err != nil {
		return res, setup(err)
	}
	cleanups = append(cleanups, func() { _ = nw.Close() })
	env.Net = nw
	links := map[string]string{}
	addrs := make([][]string, sc.Groups)
	upstream := map[string]string{}
	for _, n := range nodes {
		upstream[n.Name] = n.Addr
		if ClusterSpec(sc).Replicas {
			// A failover moves the node to its replica's address: the links go through a front that moves
			// with it, so that no proxy has to give up its port mid-run.
			if upstream[n.Name], err = nw.AddFront(n.Name, n.Addr); err != nil {
				return res, setup(err)
			}
		}
	}
	for g := 0; g < sc.Groups; g++ {
		for _, n := range nodes {
			l, err := nw.AddLink(workload.GroupName(g), n.Name, upstream[n.Name])
			if err != nil {
				return res, setup(err)
			}
			addrs[g] = append(addrs[g], l.Addr())
			links[l.Name] = l.Addr()
		}
	}

	opts := LockOptions(sc, cfg.LockOptions...)
	rc := RunConfig{
		Scenario: sc, Strategy: cfg.Strategy.Name(), Seed: cfg.Seed, Duration: total.String(), Backend: backend.Name(),
		Fenced: fenced, Lock: opts, Nodes: nodes, Links: links, Started: started.UTC().Format(time.RFC3339Nano),
		GoVersion: runtime.Version(),
		Replay:    fmt.Sprintf("redlock-harness run --scenario %s --strategy %s --seed %d --duration %s --backend %s", sc.Name, cfg.Strategy.Name(), cfg.Seed, total, backend.Name()),
	}
	rcJSON, _ := json.MarshalIndent(rc, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(rcJSON, '\n'), 0o644); err != nil {
		return res, setup(err)
	}
	clock := history.NewClock()
	hw, err := history.Create(filepath.Join(dir, "history.jsonl"), clock, history.Header{
		Scenario: sc.Name, Strategy: cfg.Strategy.Name(), Seed: cfg.Seed, Started: rc.Started,
		MinCriticalSections: sc.MinCriticalSections, Fenced: fenced, Config: rcJSON,
	})
	if err != nil {
		return res, setup(err)
	}
	cleanups = append(cleanups, func() { _ = hw.Close() })

	wl := workload.New(workload.Config{
		Groups: sc.Groups, Workers: sc.Workers, Keys: sc.Keys,
		HoldMin: sc.Hold.Min.D(), HoldMax: sc.Hold.Max.D(), ThinkMin: sc.Think.Min.D(), ThinkMax: sc.Think.Max.D(),
		Careless: sc.Client == "careless", Strategy: cfg.Strategy, Lock: opts, Seed: cfg.Seed, Fenced: fenced,
	}, func(g int) []string { return addrs[g] }, hw)
	env.Workload = wl
	nem, err := fault.NewNemesis(env, hw, cfg.Seed, total)
	if err != nil {
		return res, setup(err)
	}

	if err := wl.Warm(ctx, 30*time.Second); err != nil {
		return res, setup(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	cleanups = append(cleanups, stopRun)
	wl.Start(runCtx)
	nem.Start(runCtx)
	prog := startProgress(cfg, res, total, clock, wl, nem)

	timer := time.NewTimer(total)
	select {
	case <-timer.C:
	case <-ctx.Done():
		res.Interrupted = true
	}
	timer.Stop()
	res.Elapsed = time.Duration(clock.Now())
	stopRun()
	nemErr := nem.Stop()
	wl.Stop(2*opts.TTL + 5*time.Second)
	prog.stop()
	if err := hw.Close(); err != nil {
		return res, setup(fmt.Errorf("history: %w", err))
	}
	if res.Interrupted {
		return res, fmt.Errorf("run interrupted: %w", context.Canceled)
	}
	if nemErr != nil {
		return res, setup(fmt.Errorf("nemesis: %w", nemErr))
	}

	h, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return res, setup(err)
	}
	res.Check = checker.Check(h, checker.Options{Timeout: cfg.CheckTimeout})
	res.Verdict = res.Check.Verdict
	if err := WriteVerdict(dir, res.Check); err != nil {
		return res, setup(err)
	}
	if err := WriteReport(dir, h, res.Check); err != nil {
		return res, setup(err)
	}
	_ = updateLatest(dir)
	return res, nil
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

// ClusterSpec says what the scenario needs of its nodes: replicas for failover, a fake clock for clock faults.
func ClusterSpec(sc *scenarios.Scenario) cluster.Spec {
	spec := cluster.Spec{Nodes: sc.Nodes, Persistence: sc.Persistence}
	for _, f := range sc.Faults {
		switch f.Kind {
		case "failover":
			spec.Replicas = true
		case "clock-jump", "clock-strobe":
			spec.FakeClock = true
		}
	}
	return spec
}
