package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/matrix"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// matrixFlags are the flags compare and gate share.
type matrixFlags struct {
	scenarios, strategies string
	seeds                 string
	duration              time.Duration
	parallel              int
	out                   string
	backend               backendFlags
	quiet, noRecord       bool
	shard                 string
	merge                 bool
}

func (m *matrixFlags) register(fs *flag.FlagSet, seeds string) {
	fs.StringVar(&m.scenarios, "scenarios", "", "comma-separated scenarios (default: all)")
	fs.StringVar(&m.strategies, "strategies", "", "comma-separated strategies, mutants included (default: all strategies)")
	fs.StringVar(&m.seeds, "seeds", seeds, "seeds per cell: a count N (seeds 1..N), a range (11-20) or a list (3,7,9)")
	fs.DurationVar(&m.duration, "duration", 0, "override every scenario's duration")
	fs.IntVar(&m.parallel, "parallel", defaultParallel(), "runs at once (each owns its nodes, ports and proxies); default: one per CPU")
	fs.StringVar(&m.out, "out", "results", "results directory")
	m.backend.register(fs)
	fs.BoolVar(&m.quiet, "quiet", false, "no line per run")
	fs.BoolVar(&m.noRecord, "no-node-record", false, "keep no record of what the nodes saw (causes inferred from beliefs alone)")
	fs.StringVar(&m.shard, "shard", "", "make only shard i of n of the runs (i/n), for n machines sharing the matrix; --merge puts them together")
	fs.BoolVar(&m.merge, "merge", false, "run nothing: merge the shard directories (or their matrix.json) given as arguments")
}

func splitList(s string, all []string, check func(string) error) ([]string, error) {
	if strings.TrimSpace(s) == "" || s == "all" {
		return all, nil
	}
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if err := check(n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (m *matrixFlags) plan(cells []matrix.Cell) (matrix.Plan, error) {
	seeds, err := matrix.ParseSeeds(m.seeds)
	if err != nil {
		return matrix.Plan{}, err
	}
	mk, err := m.backend.maker()
	if err != nil {
		return matrix.Plan{}, err
	}
	p := matrix.Plan{Cells: cells, Seeds: seeds, Duration: m.duration, Parallel: m.parallel, OutDir: m.out, Backend: mk,
		NoNodeRecord: m.noRecord}
	if m.shard != "" {
		if p.Shard, err = matrix.ParseShard(m.shard); err != nil {
			return matrix.Plan{}, err
		}
	}
	return p, nil
}

func (m *matrixFlags) names() ([]string, []string, error) {
	scs, err := splitList(m.scenarios, scenarios.Names(), func(n string) error { _, err := scenarios.Load(n); return err })
	if err != nil {
		return nil, nil, err
	}
	sts, err := splitList(m.strategies, lock.Names(), func(n string) error { _, err := lock.Lookup(n); return err })
	return scs, sts, err
}

// progressLine prints a line per finished run, unless quiet.
func progressLine(quiet bool, stdout io.Writer) func(matrix.Cell, matrix.Outcome) {
	if quiet {
		return nil
	}
	var mu sync.Mutex
	done := 0
	return func(c matrix.Cell, o matrix.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		done++
		fmt.Fprintf(stdout, "[%3d] %-45s seed %-3d %s\n", done, c.String(), o.Seed, o.Summary)
	}
}

// runMatrix runs a plan. On a terminal it redraws the table as it fills; otherwise (a log, a pipe) it prints a
// line per finished run.
func runMatrix(ctx context.Context, p matrix.Plan, quiet bool, stdout io.Writer) (*matrix.Matrix, error) {
	total := len(p.Cells) * len(p.Seeds)
	var mu sync.Mutex
	done := 0
	head := fmt.Sprintf("%d cells × %d seeds = %d runs, %d at a time\n", len(p.Cells), len(p.Seeds), total, p.Parallel)
	fmt.Fprint(stdout, head)
	var grid *liveGrid
	if !quiet && isTerminal(stdout) {
		grid = newLiveGrid(p.Cells, len(p.Seeds))
	}
	return matrix.Run(ctx, p, func(c matrix.Cell, o matrix.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		done++
		switch {
		case grid != nil:
			grid.add(c, o)
			fmt.Fprint(stdout, "\x1b[H\x1b[2J"+head+"\n") // home and clear, then draw the table afresh
			grid.render(stdout, done, total)
		case !quiet:
			fmt.Fprintf(stdout, "[%3d/%d] %-40s seed %-3d %s\n", done, total, c.String(), o.Seed, o.Summary)
		}
	})
}

func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var mf matrixFlags
	// One seed per cell by default: the whole matrix (140 cells of 8-20 s) then takes about 9 minutes on 2 CPUs.
	// Rates need more seeds (--seeds 10 is what the expectations were measured with), at that much more time.
	mf.register(fs, "1")
	stopEarly := fs.Bool("stop-on-violation", false, "end each run at its first violation (time to first violation, not rates of violations per run)")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if mf.merge {
		return mergeMatrix("compare", fs.Args(), mf.out, stdout, stderr)
	}
	scs, sts, err := mf.names()
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return exitNoRun
	}
	var cells []matrix.Cell
	for _, sc := range scs {
		for _, st := range sts {
			cells = append(cells, matrix.Cell{Scenario: sc, Strategy: st})
		}
	}
	p, err := mf.plan(cells)
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return exitNoRun
	}
	if *stopEarly {
		p.StopOnViolation = func(matrix.Cell) bool { return true }
	}
	m, err := runMatrix(ctx, p, mf.quiet, stdout)
	if m == nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return exitNoRun
	}
	dir := filepath.Join(mf.out, "compare", time.Now().Format("20060102-150405"))
	if werr := m.WriteAll(dir); werr != nil {
		fmt.Fprintf(stderr, "compare: %v\n", werr)
		return exitNoRun
	}
	fmt.Fprintln(stdout)
	_ = m.WriteMarkdown(stdout)
	fmt.Fprintf(stdout, "\nmatrix: %s/matrix.{md,json,html}\n", dir)
	if err != nil {
		return exitNoRun
	}
	return exitValid
}

// gateFlags are gate's flags: the matrix flags and what the matrix is held to, where it comes from, and what is
// written besides it.
type gateFlags struct {
	matrixFlags
	expFile, junit, readme, from string
	fullLength, steady           bool
	share                        float64
}

// register defines gate's flags on fs: the matrix flags, ten seeds per cell by default (the share of seeds an
// unsafe cell must be caught on needs several), and gate's own.
func (g *gateFlags) register(fs *flag.FlagSet) {
	g.matrixFlags.register(fs, "10")
	fs.StringVar(&g.expFile, "expectations", "", "expectations file (default: the built-in scenarios/expectations.yaml)")
	fs.BoolVar(&g.fullLength, "full-length", false, "run every cell to its scenario's end; by default a cell expected unsafe ends at its first violation")
	fs.Float64Var(&g.share, "share", 0.9, "share of seeds on which an unsafe cell must be caught")
	fs.StringVar(&g.junit, "junit", "", "write JUnit XML here, one test case per cell")
	fs.StringVar(&g.readme, "readme", "", "rewrite the results table between the markers in this README")
	fs.StringVar(&g.from, "from", "", "judge this matrix.json (from compare or an earlier gate) instead of running the cells")
	fs.BoolVar(&g.steady, "steady-only", false, "hold only the cells measured the same on every seed (no share, no may_stall): for a profile of one or two seeds")
}

// cmdGate holds the chosen cells to their expectations: it gets the matrix (merged from shards, read from a
// matrix.json, or run), writes a shard as it is, and otherwise judges the whole and exits 1 on a failed cell.
func cmdGate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	var g gateFlags
	g.register(fs)
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	exp, err := scenarios.LoadExpectations(g.expFile)
	if err != nil {
		fmt.Fprintf(stderr, "gate: %v\n", err)
		return exitNoRun
	}
	cells, err := g.cells(exp, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "gate: %v\n", err)
		return exitNoRun
	}
	m, nSeeds, err := g.measure(ctx, fs.Args(), exp, cells, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "gate: %v\n", err)
		return exitNoRun
	}
	if g.shard != "" && !g.merge {
		return g.writeShard(m, stdout, stderr)
	}
	return g.judge(m, exp, nSeeds, stdout, stderr)
}

// cells are the cells the gate holds: those with an expectation among the chosen scenarios and strategies, less,
// with --steady-only, those whose outcome varied between seeds (named on stdout, so a profile says what it skips).
func (g *gateFlags) cells(exp *scenarios.Expectations, stdout io.Writer) ([]matrix.Cell, error) {
	scs, sts, err := g.names()
	if err != nil {
		return nil, err
	}
	var cells []matrix.Cell
	var unsteady []string
	for _, c := range exp.Cells {
		if slices.Contains(scs, c.Scenario) && slices.Contains(sts, c.Strategy) {
			if g.steady && !c.Steady() {
				unsteady = append(unsteady, c.Scenario+"/"+c.Strategy)
				continue
			}
			cells = append(cells, matrix.Cell{Scenario: c.Scenario, Strategy: c.Strategy})
		}
	}
	if len(cells) == 0 {
		return nil, errors.New("no expectation matches the chosen scenarios and strategies")
	}
	if len(unsteady) > 0 {
		fmt.Fprintf(stdout, "gate: not held in this profile (their outcome varied between seeds when measured): %s\n", strings.Join(unsteady, ", "))
	}
	return cells, nil
}

// measure gets the matrix of cells and its seeds per cell: from the shard directories in args (--merge), from a
// matrix.json (--from), or by running the cells; it says on stdout which, and what the cells are held to.
func (g *gateFlags) measure(ctx context.Context, args []string, exp *scenarios.Expectations, cells []matrix.Cell, stdout io.Writer) (*matrix.Matrix, int, error) {
	switch {
	case g.merge:
		m, err := matrix.ReadShards(args)
		if err != nil {
			return nil, 0, err
		}
		m = m.Only(cells)
		fmt.Fprintf(stdout, "gate: %d shards merged, held to %s, %d seeds per cell\n", len(args), exp.File, len(m.Seeds))
		return m, len(m.Seeds), nil
	case g.from != "":
		m, err := matrix.ReadJSON(g.from)
		if err != nil {
			return nil, 0, err
		}
		m = m.Only(cells)
		nSeeds := len(m.Seeds)
		fmt.Fprintf(stdout, "gate: %s held to %s, %d seeds per cell, unsafe cells must be caught on %d of %d\n",
			g.from, exp.File, nSeeds, matrix.RequiredCatches(nSeeds, g.share), nSeeds)
		return m, nSeeds, nil
	}
	return g.run(ctx, exp, cells, stdout)
}

// run runs the cells on the plan the flags make; unless --full-length, a cell expected unsafe (or rare) ends each
// run at its first violation. Any error, a partial matrix included, means the gate cannot judge.
func (g *gateFlags) run(ctx context.Context, exp *scenarios.Expectations, cells []matrix.Cell, stdout io.Writer) (*matrix.Matrix, int, error) {
	p, err := g.plan(cells)
	if err != nil {
		return nil, 0, err
	}
	length := "each scenario's full length"
	if g.duration > 0 {
		length = "runs cut to " + g.duration.String() + " (a short profile)"
	}
	if !g.fullLength {
		// A cell expected unsafe asks one question, whether the harness still catches the lock: its runs end at
		// the first violation, which the checker then confirms. Safe cells run to the end.
		p.StopOnViolation = func(c matrix.Cell) bool {
			e, _ := exp.Lookup(c.Scenario, c.Strategy)
			return e.Expect == scenarios.Unsafe || e.Expect == scenarios.Rare
		}
		length += ", cells expected unsafe ending at their first violation"
	}
	nSeeds := len(p.Seeds)
	fmt.Fprintf(stdout, "gate: %s, seeds %s, %s, unsafe cells must be caught on %d of %d\n",
		exp.File, g.seeds, length, matrix.RequiredCatches(nSeeds, g.share), nSeeds)
	m, err := runMatrix(ctx, p, g.quiet, stdout)
	if err != nil {
		return nil, 0, err
	}
	return m, nSeeds, nil
}

// writeShard writes a shard's matrix unjudged: a shard holds part of the runs, and judged alone every cell would
// be short of seeds. `gate --merge` judges the shards together.
func (g *gateFlags) writeShard(m *matrix.Matrix, stdout, stderr io.Writer) int {
	dir := filepath.Join(g.out, "gate", time.Now().Format("20060102-150405")+"-shard"+strings.ReplaceAll(g.shard, "/", "of"))
	if err := m.WriteAll(dir); err != nil {
		fmt.Fprintf(stderr, "gate: %v\n", err)
		return exitNoRun
	}
	fmt.Fprintf(stdout, "\ngate: shard %s written to %s; judge the whole with `gate --merge DIR…`\n", g.shard, dir)
	return exitValid
}

// judge holds m to exp, writes the matrix (and the JUnit file and README table when asked), prints the failed
// cells and returns exit 1 when there is one.
func (g *gateFlags) judge(m *matrix.Matrix, exp *scenarios.Expectations, nSeeds int, stdout, stderr io.Writer) int {
	res := matrix.Evaluate(m, exp, g.share)
	dir := filepath.Join(g.out, "gate", time.Now().Format("20060102-150405"))
	if err := m.WriteAll(dir); err != nil {
		fmt.Fprintf(stderr, "gate: %v\n", err)
		return exitNoRun
	}
	if g.junit != "" {
		if err := writeJUnitFile(g.junit, m, res); err != nil {
			fmt.Fprintf(stderr, "gate: junit: %v\n", err)
			return exitNoRun
		}
	}
	if g.readme != "" {
		if err := matrix.UpdateReadme(g.readme, m, res, nSeeds); err != nil {
			fmt.Fprintf(stderr, "gate: readme: %v\n", err)
			return exitNoRun
		}
	}
	failed := matrix.Failed(res)
	fmt.Fprintf(stdout, "\ngate: %d of %d cells pass (matrix in %s)\n", len(res)-len(failed), len(res), dir)
	for _, f := range failed {
		fmt.Fprintf(stdout, "FAIL %s: %s\n", f.Cell, f.Message)
	}
	if len(failed) > 0 {
		return exitInvalid
	}
	return exitValid
}

// writeJUnitFile writes the gate's verdicts to path as JUnit XML, for CI to show one test case per cell.
func writeJUnitFile(path string, m *matrix.Matrix, res []matrix.GateCell) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = matrix.WriteJUnit(f, m, res)
	f.Close()
	return err
}

// mergeMatrix puts the matrices of shard directories together and writes the whole as compare does.
func mergeMatrix(name string, dirs []string, out string, stdout, stderr io.Writer) int {
	m, err := matrix.ReadShards(dirs)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitNoRun
	}
	dir := filepath.Join(out, name, time.Now().Format("20060102-150405")+"-merged")
	if err := m.WriteAll(dir); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitNoRun
	}
	_ = m.WriteMarkdown(stdout)
	fmt.Fprintf(stdout, "\n%d shards merged: %s/matrix.{md,json,html}\n", len(dirs), dir)
	return exitValid
}
