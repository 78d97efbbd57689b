// Package matrix runs many (scenario, strategy, seed) runs, several at a time, and gathers them into the
// strategies × scenarios table people choose a lock from, and the gate CI holds the harness to.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
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

// Cell is one scenario × strategy pair.
type Cell struct {
	Scenario string `json:"scenario"`
	Strategy string `json:"strategy"`
}

func (c Cell) String() string { return c.Scenario + "/" + c.Strategy }

// Plan says which runs to make.
type Plan struct {
	Cells []Cell
	Seeds []int64
	// Duration overrides every scenario's duration when positive.
	Duration time.Duration
	// Parallel is how many runs go at once; each run owns its nodes, ports and proxies. Default 1.
	Parallel int
	// OutDir is the results root.
	OutDir string
	// Backend makes a fresh backend per run, of the run's system; nil means the system's default (local
	// processes). An error wrapping harness.ErrNotApplicable makes the run n/a.
	Backend func(sys system.System) (cluster.Backend, error)
	// Strategy resolves a strategy name; nil means the built-in registry (strategies and mutants).
	Strategy func(name string) (lock.Strategy, error)
	// NoNodeRecord turns the servers' record off in every run (harness.Config.NoNodeRecord).
	NoNodeRecord bool
	// Shard makes only this shard's part of the runs (Shard.Takes); the zero value makes them all.
	Shard Shard
	// StopOnViolation says which cells' runs end at their first violation (harness.Config.StopOnViolation):
	// those whose only question is whether a lock known to be broken is still caught. Nil: none.
	StopOnViolation func(Cell) bool
}

// Outcome is one run's result, kept small for the table.
type Outcome struct {
	Seed    int64  `json:"seed"`
	Verdict string `json:"verdict"`
	Summary string `json:"summary"`
	Dir     string `json:"dir,omitempty"`
	// FirstViolation is when the first violation happened, from the run's start; 0 when none.
	FirstViolation time.Duration `json:"first_violation_ns,omitempty"`
	Cause          string        `json:"cause,omitempty"`
	// Written is the number of critical sections that wrote; CSPerSec their rate. MinWritten is the run's minimum,
	// below which a run that found no violation is unknown for too little work.
	Written    int     `json:"written"`
	MinWritten int     `json:"min_written"`
	CSPerSec   float64 `json:"cs_per_sec"`
	// Err is set when the harness could not run.
	Err string `json:"error,omitempty"`
	// Live is the liveness verdict ("ok" or "stuck"); Stuck names the stuck keys' first, as the summary does.
	Live  string `json:"live,omitempty"`
	Stuck string `json:"stuck,omitempty"`
	// Elapsed is how long the run's workload ran; StoppedEarly says it ended at its first violation.
	Elapsed      time.Duration `json:"elapsed_ns,omitempty"`
	StoppedEarly bool          `json:"stopped_early,omitempty"`
}

// CellResult gathers a cell's runs.
type CellResult struct {
	Cell
	// System is the system the cell's strategy locks against ("redis", "etcd"): tables group columns by it.
	System string    `json:"system,omitempty"`
	Runs   []Outcome `json:"runs"`
}

// Count returns how many runs had the verdict v ("error" counts runs the harness could not make).
func (c CellResult) Count(v string) int {
	n := 0
	for _, r := range c.Runs {
		if r.Verdict == v {
			n++
		}
	}
	return n
}

// Stalled reports whether the run was unknown because it did too little work (the lock made no progress), as
// opposed to unknown because the linearizability search ran out of time.
func (o Outcome) Stalled() bool {
	return checker.Stalled(checker.Verdict(o.Verdict), o.Written, o.MinWritten)
}

// Worst is the cell's worst verdict over its seeds.
func (c CellResult) Worst() string {
	w, na := checker.Valid, 0
	for _, r := range c.Runs {
		if r.Verdict == NotApplicable {
			na++
			continue
		}
		w = checker.Merge(w, checker.Verdict(r.Verdict))
	}
	if na > 0 && na == len(c.Runs) {
		return NotApplicable
	}
	return string(w)
}

// FirstViolation is the earliest violation time over the cell's runs, 0 when none.
func (c CellResult) FirstViolation() time.Duration {
	var best time.Duration
	for _, r := range c.Runs {
		if r.FirstViolation > 0 && (best == 0 || r.FirstViolation < best) {
			best = r.FirstViolation
		}
	}
	return best
}

// Causes lists the distinct violation causes seen.
func (c CellResult) Causes() []string {
	set := map[string]bool{}
	for _, r := range c.Runs {
		if r.Cause != "" {
			set[r.Cause] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CSPerSec is the mean rate of written critical sections over the cell's runs.
func (c CellResult) CSPerSec() float64 {
	if len(c.Runs) == 0 {
		return 0
	}
	s := 0.0
	for _, r := range c.Runs {
		s += r.CSPerSec
	}
	return s / float64(len(c.Runs))
}

// Headline is the cell's verdict over seeds, e.g. "invalid 10/10, first at 4.2s" (the median time to the first
// violation over the seeds that found one), with the seeds that ended with a stuck lock: ", stuck 3/10".
func (c CellResult) Headline() string {
	n := len(c.Runs)
	inv := c.Count(string(checker.Invalid))
	h := c.safetyHeadline(n, inv)
	if k := c.StuckCount(); k > 0 {
		h += fmt.Sprintf(", stuck %d/%d", k, n)
	}
	return h
}

func (c CellResult) safetyHeadline(n, inv int) string {
	switch {
	case inv > 0:
		return fmt.Sprintf("invalid %d/%d, first at %.1fs", inv, n, c.MedianFirstViolation().Seconds())
	case n > 0 && c.Count(NotApplicable) == n:
		return NotApplicable
	case c.Count("error") > 0:
		return fmt.Sprintf("error %d/%d", c.Count("error"), n)
	case c.Count(string(checker.Unknown)) > 0:
		unk, stalled := c.Count(string(checker.Unknown)), 0
		for _, r := range c.Runs {
			if r.Stalled() {
				stalled++
			}
		}
		if stalled == unk {
			// Too little work to judge: the lock made no progress (availability loss), which is a finding too.
			return fmt.Sprintf("stalled %d/%d", stalled, n)
		}
		return fmt.Sprintf("unknown %d/%d", unk, n)
	default:
		return fmt.Sprintf("valid %d/%d", c.Count(string(checker.Valid)), n)
	}
}

// Matrix is the result of a plan.
type Matrix struct {
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Seeds    []int64       `json:"seeds"`
	Duration string        `json:"duration,omitempty"`
	Cells    []CellResult  `json:"cells"`
}

// Only returns the matrix restricted to cells, in that order; a cell the matrix never ran is there with no runs,
// so that the gate reports it as not measured rather than passing over it.
func (m *Matrix) Only(cells []Cell) *Matrix {
	have := map[Cell]CellResult{}
	for _, c := range m.Cells {
		have[c.Cell] = c
	}
	out := *m
	out.Cells = nil
	for _, c := range cells {
		r, ok := have[c]
		if !ok {
			r = CellResult{Cell: c}
		}
		out.Cells = append(out.Cells, r)
	}
	return &out
}

// Scenarios and Strategies list the matrix's rows and columns in order of first appearance.
func (m *Matrix) Scenarios() []string {
	return uniq(m.Cells, func(c CellResult) string { return c.Scenario })
}
func (m *Matrix) Strategies() []string {
	sts := uniq(m.Cells, func(c CellResult) string { return c.Strategy })
	sys := m.strategySystems()
	rank := map[string]int{"": 0} // a matrix written before systems: Redis's
	for _, s := range system.All() {
		rank[s.Name()] = len(rank)
	}
	order := func(name string) (int, string) {
		if r, ok := rank[name]; ok {
			return r, ""
		}
		return len(rank), name // a system this program does not have: after the known ones, by name
	}
	// A system's strategies side by side, systems in their registry's order (Redis first).
	slices.SortStableFunc(sts, func(a, b string) int {
		ra, na := order(sys[a])
		rb, nb := order(sys[b])
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(na, nb)
	})
	return sts
}

// Systems lists the system of each column of Strategies, in order ("" for a matrix written before systems).
func (m *Matrix) Systems() []string {
	sys := m.strategySystems()
	var out []string
	for _, st := range m.Strategies() {
		out = append(out, sys[st])
	}
	return out
}

func (m *Matrix) strategySystems() map[string]string {
	out := map[string]string{}
	for _, c := range m.Cells {
		out[c.Strategy] = c.System
	}
	return out
}

// MultiSystem says whether the matrix holds strategies of more than one system, so that tables name each
// column's system.
func (m *Matrix) MultiSystem() bool {
	return len(uniq(m.Cells, func(c CellResult) string { return c.System })) > 1
}

// systemOf names the system a cell's strategy locks against, "" when the strategy cannot be resolved (the run
// reports that).
func systemOf(plan Plan, name string) string {
	st, err := plan.Strategy(name)
	if err != nil {
		return ""
	}
	sys, err := system.For(st)
	if err != nil {
		return ""
	}
	return sys.Name()
}

func uniq(cs []CellResult, f func(CellResult) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cs {
		if k := f(c); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Cell finds a cell's result.
func (m *Matrix) Cell(scenario, strategy string) (CellResult, bool) {
	for _, c := range m.Cells {
		if c.Scenario == scenario && c.Strategy == strategy {
			return c, true
		}
	}
	return CellResult{}, false
}

// Run makes every run of the plan, Parallel at a time, calling onRun after each (for a live table). It stops
// early when ctx ends, returning what it has and ctx's error.
func Run(ctx context.Context, plan Plan, onRun func(Cell, Outcome)) (*Matrix, error) {
	if plan.Parallel < 1 {
		plan.Parallel = 1
	}
	if plan.Strategy == nil {
		plan.Strategy = func(name string) (lock.Strategy, error) {
			info, err := lock.Lookup(name)
			if err != nil {
				return nil, err
			}
			return info.Make(), nil
		}
	}
	m := &Matrix{Started: time.Now(), Seeds: plan.Seeds}
	if plan.Duration > 0 {
		m.Duration = plan.Duration.String()
	}
	scs := map[string]*scenarios.Scenario{}
	for _, c := range plan.Cells {
		if _, ok := scs[c.Scenario]; ok {
			continue
		}
		sc, err := scenarios.Load(c.Scenario)
		if err != nil {
			return nil, err
		}
		scs[c.Scenario] = sc
	}
	type job struct {
		cell, seed int
	}
	m.Cells = make([]CellResult, len(plan.Cells))
	for i, c := range plan.Cells {
		m.Cells[i] = CellResult{Cell: c, System: systemOf(plan, c.Strategy), Runs: make([]Outcome, len(plan.Seeds))}
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < plan.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c := plan.Cells[j.cell]
				out := runOne(ctx, plan, scs[c.Scenario], c, plan.Seeds[j.seed])
				mu.Lock()
				m.Cells[j.cell].Runs[j.seed] = out
				mu.Unlock()
				if onRun != nil {
					onRun(c, out)
				}
			}
		}()
	}
	// The runs go in a shuffled order, the same every time: neighbouring cells share a scenario, and a scenario
	// that is heavy for the machine (latency against the multi-node locks: every command times out and redials)
	// would otherwise run beside itself, and the load of one run would starve its neighbour's per-node timeouts.
	order := rand.New(rand.NewPCG(uint64(len(plan.Cells)), uint64(len(plan.Seeds)))).Perm(len(plan.Cells) * len(plan.Seeds))
feed:
	for _, k := range order {
		if !plan.Shard.Takes(k%len(plan.Cells), k/len(plan.Cells), len(plan.Cells)) {
			continue
		}
		select {
		case jobs <- job{k % len(plan.Cells), k / len(plan.Cells)}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	m.Elapsed = time.Since(m.Started)
	if plan.Shard.N > 1 {
		// A shard holds the runs it made, and the seeds of its plan: Merge puts the shards back together.
		for i := range m.Cells {
			m.Cells[i].Runs = slices.DeleteFunc(m.Cells[i].Runs, func(o Outcome) bool { return o.Seed == 0 })
		}
	}
	return m, ctx.Err()
}

// NotApplicable is the verdict of a run the strategy's system cannot make: the scenario asks for a fault its
// backend cannot do, or the system has no such backend. The outcome's Err says why.
const NotApplicable = "n/a"

func runOne(ctx context.Context, plan Plan, sc *scenarios.Scenario, c Cell, seed int64) Outcome {
	out := Outcome{Seed: seed}
	fail := func(err error) Outcome {
		out.Verdict, out.Err = "error", err.Error()
		switch {
		case errors.Is(err, harness.ErrNotApplicable):
			out.Verdict = NotApplicable
		case errors.Is(err, context.Canceled):
			out.Err = "interrupted"
		}
		out.Summary = out.Err
		return out
	}
	st, err := plan.Strategy(c.Strategy)
	if err != nil {
		return fail(err)
	}
	sys, err := system.For(st)
	if err != nil {
		return fail(err)
	}
	cfg := harness.Config{Scenario: sc, Strategy: st, System: sys, Seed: seed, Duration: plan.Duration, OutDir: plan.OutDir,
		StopOnViolation: plan.StopOnViolation != nil && plan.StopOnViolation(c), NoNodeRecord: plan.NoNodeRecord}
	if plan.Backend != nil {
		if cfg.Backend, err = plan.Backend(sys); err != nil {
			return fail(err)
		}
	}
	res, err := harness.Run(ctx, cfg)
	out.Dir = res.Dir
	if err != nil {
		return fail(err)
	}
	out.Verdict = string(res.Verdict)
	out.Summary = res.Check.Summary()
	fillFromCheck(&out, res)
	return out
}

// RequiredCatches is how many of n seeds an unsafe cell must be caught on at share (e.g. 0.9 → 9 of 10).
func RequiredCatches(n int, share float64) int {
	return int(math.Ceil(share*float64(n) - 1e-9))
}

// Spread is the 95 % Wilson score interval of a rate of k in n, as "72–100 %": a rate measured on ten seeds is a
// sample, and 10/10 says "at least 72 %", not "always". It is "" for n = 0.
func Spread(k, n int) string {
	if n <= 0 {
		return ""
	}
	const z = 1.959964
	p, fn := float64(k)/float64(n), float64(n)
	centre := (p + z*z/(2*fn)) / (1 + z*z/fn)
	half := z / (1 + z*z/fn) * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn))
	lo, hi := math.Max(0, centre-half), math.Min(1, centre+half)
	return fmt.Sprintf("%.0f–%.0f %%", math.Floor(lo*100), math.Ceil(hi*100))
}

// fillFromCheck copies the figures the table shows from a judged run.
func fillFromCheck(out *Outcome, res harness.Result) {
	out.FirstViolation = res.Check.FirstViolation
	out.Cause = string(res.Check.Cause)
	out.Written = res.Check.Liveness.All.CS.Written
	out.MinWritten = res.Check.MinCriticalSections
	out.CSPerSec = res.Check.Liveness.All.CSPerSec
	out.Live = res.Check.Liveness.Verdict
	if len(res.Check.Liveness.Stuck) > 0 {
		out.Stuck = res.Check.Liveness.Stuck[0].String()
	}
	out.Elapsed, out.StoppedEarly = res.Elapsed, res.StoppedEarly
}

// StuckCount is how many of the cell's runs ended with a stuck lock.
func (c CellResult) StuckCount() int {
	n := 0
	for _, r := range c.Runs {
		if r.Live == "stuck" {
			n++
		}
	}
	return n
}

// MedianFirstViolation is the median time to the first violation over the runs that found one, 0 when none did.
func (c CellResult) MedianFirstViolation() time.Duration {
	var ts []time.Duration
	for _, r := range c.Runs {
		if r.FirstViolation > 0 {
			ts = append(ts, r.FirstViolation)
		}
	}
	if len(ts) == 0 {
		return 0
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts[len(ts)/2]
}
