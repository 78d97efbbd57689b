package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// runArgs is what `run` was asked for, its flags parsed and resolved.
type runArgs struct {
	sc       *scenarios.Scenario
	names    []string
	seed     int64
	duration time.Duration
	backend  backendMaker
	out      string
	toxAPI   string
	noRecord bool
	parallel int
	// progress is where the runs report as they go (nil with --quiet); tty redraws one line in place.
	progress io.Writer
	tty      bool
}

// cmdRun runs one scenario against one or more strategies, several at a time, and exits with the worst verdict.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ra, code, ok := parseRunArgs(args, stderr)
	if !ok {
		return code
	}
	return ra.runAll(ctx, stdout, stderr)
}

// parseRunArgs parses and checks run's flags; when it reports false, the int is the exit code.
func parseRunArgs(args []string, stderr io.Writer) (*runArgs, int, bool) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	scenario := fs.String("scenario", "", "scenario name (see `list`) or path of a scenario .yaml file")
	strategies := fs.String("strategy", "", "comma-separated strategies, or all (default: the scenario's own list, else all)")
	ra := &runArgs{}
	fs.Int64Var(&ra.seed, "seed", 1, "seed every random choice derives from")
	fs.DurationVar(&ra.duration, "duration", 0, "override the scenario's duration")
	var bf backendFlags
	bf.register(fs)
	fs.StringVar(&ra.out, "out", "results", "results directory")
	fs.StringVar(&ra.toxAPI, "toxiproxy-api", "", "serve the embedded Toxiproxy's HTTP API on this address (e.g. 127.0.0.1:8474)")
	quiet := fs.Bool("quiet", false, "no progress line")
	fs.BoolVar(&ra.noRecord, "no-node-record", false, "keep no record of what the nodes saw (nodes.jsonl): causes are then inferred from the clients' beliefs alone")
	fs.IntVar(&ra.parallel, "parallel", defaultParallel(), "strategies run at once when there are several (each run owns its nodes, ports and proxies); default: one per CPU")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return nil, code, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "run: unexpected argument %q\n", fs.Arg(0))
		return nil, exitNoRun, false
	}
	if *scenario == "" {
		fmt.Fprintf(stderr, "run: --scenario is required (one of: %s)\n", strings.Join(scenarios.Names(), ", "))
		return nil, exitNoRun, false
	}
	if err := ra.resolve(*scenario, *strategies, &bf); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return nil, exitNoRun, false
	}
	ra.setProgress(*quiet, stderr)
	return ra, exitValid, true
}

// resolve loads the scenario, names the strategies and makes the backend maker the flags ask for.
func (ra *runArgs) resolve(scenario, strategies string, bf *backendFlags) error {
	var err error
	if ra.sc, err = scenarios.Load(scenario); err != nil {
		return err
	}
	if ra.names, err = strategyNames(strategies, ra.sc); err != nil {
		return err
	}
	ra.backend, err = bf.maker()
	return err
}

// setProgress settles how many runs go at once and how they report: one at a time when there is one strategy or
// a Toxiproxy API to serve (one address serves one run), a line redrawn in place only for one run on a terminal.
func (ra *runArgs) setProgress(quiet bool, stderr io.Writer) {
	if ra.parallel < 1 {
		ra.parallel = 1
	}
	if ra.toxAPI != "" || len(ra.names) == 1 {
		ra.parallel = 1 // one Toxiproxy API address can serve one run at a time
	}
	if !quiet {
		ra.progress = &lockedWriter{w: stderr}
		// A line redrawn in place serves one run; several at once print plain lines, each naming its run.
		ra.tty = ra.parallel == 1 && isTerminal(stderr)
	}
}

// runAll runs every strategy, parallel at a time, and hands out no more runs once one could not finish (or ctx
// ends); several strategies end with the tally line.
func (ra *runArgs) runAll(ctx context.Context, stdout, stderr io.Writer) int {
	t := &runTally{code: exitValid, verdicts: map[checker.Verdict][]string{}}
	if len(ra.names) > 1 {
		t.expect, _ = scenarios.LoadExpectations("") // built in: it parses, as a test holds
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range min(ra.parallel, len(ra.names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				res, err := ra.runOne(ctx, name)
				t.add(ra.sc.Name, name, res, err, stdout, stderr)
			}
		}()
	}
	for _, name := range ra.names {
		if t.stop(ctx) {
			break
		}
		jobs <- name
	}
	close(jobs)
	wg.Wait()
	if len(ra.names) > 1 && !t.stopping {
		fmt.Fprintln(stdout, tally(ra.sc.Name, t.verdicts, t.stalled, t.code))
	}
	return t.code
}

// runOne runs the scenario against one strategy on a fresh backend of its system.
func (ra *runArgs) runOne(ctx context.Context, name string) (harness.Result, error) {
	info, _ := lock.Lookup(name)
	st := info.Make()
	sys, err := system.For(st)
	if err != nil {
		return harness.Result{}, fmt.Errorf("%w: %v", harness.ErrSetup, err)
	}
	be, err := ra.backend(sys)
	if err != nil {
		return harness.Result{}, fmt.Errorf("%w: %w", harness.ErrSetup, err)
	}
	return harness.Run(ctx, harness.Config{
		Scenario: ra.sc, Strategy: st, System: sys, Seed: ra.seed, Duration: ra.duration, Backend: be,
		OutDir: ra.out, ToxiproxyAPI: ra.toxAPI, Progress: ra.progress, ProgressTTY: ra.tty, NoNodeRecord: ra.noRecord,
	})
}

// runTally gathers the outcomes of runs going at once: the exit code so far, each verdict's strategies, and
// whether a run could not finish (then no more runs start).
type runTally struct {
	mu       sync.Mutex
	code     int
	stopping bool
	verdicts map[checker.Verdict][]string
	// expect, in a run of several strategies, is the built-in truth table: an unknown verdict of a lock it
	// expects to stall under the scenario (redlock-naive under most) is what that lock does, not a run the
	// harness could not vouch for, so it does not raise the exit code; the tally says so. Nil: every unknown counts.
	expect *scenarios.Expectations
	// stalled are the strategies whose unknown verdict the truth table expected.
	stalled []string
}

// add prints a finished run's summary (or why it could not run) and counts it.
func (t *runTally) add(scenario, name string, res harness.Result, err error, stdout, stderr io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(stdout, res.Summary())
		t.code, t.stopping = exitNoRun, true
	case err != nil:
		fmt.Fprintf(stderr, "%s/%s: %v\n", scenario, name, err)
		t.code, t.stopping = exitNoRun, true
	default:
		fmt.Fprintln(stdout, res.Summary())
		code := exitCode(res.Verdict)
		if stalled(res) && t.stallExpected(scenario, name) {
			code = exitValid
			t.stalled = append(t.stalled, name)
		}
		t.code = worse(t.code, code)
		t.verdicts[res.Verdict] = append(t.verdicts[res.Verdict], name)
	}
}

// stalled says whether a run's verdict is unknown because it did too little work (not, say, because its
// linearizability check ran out of time, which no expectation excuses).
func stalled(res harness.Result) bool {
	return checker.Stalled(res.Verdict, res.Check.Liveness.All.CS.Written, res.Check.MinCriticalSections)
}

// stallExpected says whether the truth table expects strategy to make too little progress under scenario for a
// verdict (`expect: stalls`, or a safe cell with `may_stall`).
func (t *runTally) stallExpected(scenario, strategy string) bool {
	if t.expect == nil {
		return false
	}
	e, ok := t.expect.Lookup(scenario, strategy)
	return ok && (e.Expect == scenarios.Stalls || e.MayStall)
}

// stop says whether to start no more runs: one could not finish, or ctx has ended.
func (t *runTally) stop(ctx context.Context) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopping || ctx.Err() != nil
}

// tally is the closing line of a run of several strategies: how many came out each way, which did not come out
// valid, which unknown verdicts were of locks expected to stall (stalled), and what the exit code means.
func tally(scenario string, verdicts map[checker.Verdict][]string, stalled []string, code int) string {
	var parts []string
	for _, v := range []checker.Verdict{checker.Valid, checker.Invalid, checker.Unknown} {
		names := verdicts[v]
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		part := fmt.Sprintf("%d %s", len(names), v)
		if v != checker.Valid {
			part += " (" + strings.Join(names, ", ") + ")"
		}
		parts = append(parts, part)
	}
	why := map[int]string{
		exitValid:   "every lock kept mutual exclusion",
		exitInvalid: "a violation was found",
		exitNoRun:   "a verdict is unknown: that run did too little work, or its check ran out of time, to vouch for its lock",
	}[code]
	if code == exitNoRun && len(verdicts[checker.Invalid]) > 0 {
		why = "a violation was found, and " + why
	}
	if len(stalled) > 0 {
		sort.Strings(stalled)
		if code == exitValid {
			why = "no lock was found violating mutual exclusion"
		}
		why += "; " + strings.Join(stalled, ", ") + " did too little work, as scenarios/expectations.yaml expects of it here, which raises no exit code"
	}
	return fmt.Sprintf("%s: %s; exit %d: %s", scenario, strings.Join(parts, ", "), code, why)
}

// lockedWriter lets the runs going at once share the terminal a line at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// strategyNames resolves --strategy: a list, "all", or the scenario's default.
func strategyNames(flagVal string, sc *scenarios.Scenario) ([]string, error) {
	switch strings.TrimSpace(flagVal) {
	case "":
		if len(sc.Strategies) > 0 {
			return sc.Strategies, nil
		}
		return lock.Names(), nil
	case "all":
		return lock.Names(), nil
	}
	var out []string
	for _, n := range strings.Split(flagVal, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, err := lock.Lookup(n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--strategy names no strategy")
	}
	return out, nil
}

// backendFlags are the flags that choose where the nodes run.
type backendFlags struct {
	name, nodes, username, password string
	tls, insecure, allowRemote      bool
	hooks                           cluster.Hooks
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.name, "backend", "local", "where the nodes run: local (redis-server processes), docker (containers through the local Docker engine; the image is built offline at first use) or external (your own servers, --nodes)")
	fs.StringVar(&b.nodes, "nodes", "", "external backend: your Redis servers, host:port,… (n1 first; five for the multi-node locks)")
	fs.StringVar(&b.username, "username", "", "external backend: ACL user")
	fs.StringVar(&b.password, "password", os.Getenv("REDIS_PASSWORD"), "external backend: password (default $REDIS_PASSWORD)")
	fs.BoolVar(&b.tls, "tls", false, "external backend: TLS to every server")
	fs.BoolVar(&b.insecure, "tls-insecure", false, "external backend: TLS without verifying the servers' certificates")
	fs.BoolVar(&b.allowRemote, "allow-remote", false, "external backend: allow servers that are not on loopback")
	fs.StringVar(&b.hooks.Pause, "hook-pause", "", "external backend: command that pauses a server ({node}, {addr} replaced); with --hook-resume, enables the pause fault")
	fs.StringVar(&b.hooks.Resume, "hook-resume", "", "external backend: command that resumes a paused server")
	fs.StringVar(&b.hooks.Kill, "hook-kill", "", "external backend: command that kills a server; with --hook-restart, enables crash-restart")
	fs.StringVar(&b.hooks.Restart, "hook-restart", "", "external backend: command that restarts a killed server at its address")
}

// backendMaker makes a fresh backend for one run of a strategy of sys.
type backendMaker func(sys system.System) (cluster.Backend, error)

// maker resolves the flags to a constructor: each run gets a backend of its own, of its strategy's system. A
// backend name no system knows is an error now; one that the strategy's system lacks (the external backend is
// your own Redis servers) is refused per run as not applicable.
func (b *backendFlags) maker() (backendMaker, error) {
	if b.name == "external" {
		ext := cluster.External{Addrs: splitNodes(b.nodes), Username: b.username, Password: b.password, TLS: b.tls,
			Insecure: b.insecure, AllowRemote: b.allowRemote, Hooks: b.hooks}
		if _, err := cluster.NewExternal(ext); err != nil {
			return nil, err
		}
		return func(sys system.System) (cluster.Backend, error) {
			if sys.Name() != lock.SystemRedis {
				return nil, fmt.Errorf("%w: the external backend runs against your own Redis servers; the %s system's backends are %s",
					harness.ErrNotApplicable, sys.Name(), strings.Join(sys.Backends(), ", "))
			}
			return cluster.NewExternal(ext)
		}, nil
	}
	known := map[string]bool{"external": true}
	for _, sys := range system.All() {
		for _, n := range sys.Backends() {
			known[n] = true
		}
	}
	if !known[b.name] {
		return nil, fmt.Errorf("unknown backend %q (known: %s)", b.name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
	}
	name := b.name
	return func(sys system.System) (cluster.Backend, error) {
		be, err := sys.NewBackend(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", harness.ErrNotApplicable, err)
		}
		return be, nil
	}, nil
}

func splitNodes(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func exitCode(v checker.Verdict) int {
	switch v {
	case checker.Valid:
		return exitValid
	case checker.Invalid:
		return exitInvalid
	default:
		return exitNoRun
	}
}

// worse merges exit codes: a harness failure or unknown (2) outranks a violation (1), which outranks valid (0).
func worse(a, b int) int { return max(a, b) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// defaultParallel is how many runs go at once unless told otherwise: one per CPU. A run of a multi-node lock under
// latency costs most of a CPU by itself (every command outlives Redlock's per-node timeout, and go-redis redials
// every connection it gave up on, through the proxies), and the load of one run delays the next one's goroutines
// past that 25-50 ms timeout: measured on 2 CPUs, two such runs side by side both stalled (1 critical section per
// second) where either alone wrote 8 per second. Pass --parallel 1 to measure a lock's throughput.
func defaultParallel() int { return max(1, runtime.NumCPU()) }
