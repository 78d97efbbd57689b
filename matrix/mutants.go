package matrix

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// MutantShare is the share of seeds a mutant must be caught on, in a scenario where its twin is valid on every
// seed, to count as caught (9 of 10).
const MutantShare = 0.9

// MutantTrial is one mutant under one scenario, beside its twin under the same scenario and seeds.
type MutantTrial struct {
	Scenario string `json:"scenario"`
	// As is the verdict that catches this mutant: "invalid", or "stuck" for a liveness bug (its plan's caught_as).
	As string `json:"caught_as,omitempty"`
	// Caught is how many seeds found the mutant invalid (or stuck), of Seeds; TwinValid how many found its twin
	// valid (and, for a liveness bug, not stuck).
	Caught    int `json:"caught"`
	Seeds     int `json:"seeds"`
	TwinValid int `json:"twin_valid"`
	// Cause is the first violation's cause, on the first seed that caught the mutant; FirstAt the median time to
	// the first violation over the seeds that caught it.
	Cause   string        `json:"cause,omitempty"`
	FirstAt time.Duration `json:"first_at_ns,omitempty"`
	// TwinRuns is how many runs of the twin were made there (none where the mutant was not caught: RunMutants).
	TwinRuns int `json:"twin_runs"`
	// Kills says the trial meets the bar: caught on MutantShare of the seeds, its twin valid on every one.
	Kills bool `json:"kills"`
}

// MutantResult is what the harness made of one mutant.
type MutantResult struct {
	Name string `json:"name"`
	Twin string `json:"twin"`
	Bug  string `json:"bug"`
	// CaughtBy is the scenario that kills the mutant, "" when none of those tried does; Rate its catches
	// ("10/10"), TwinValid whether its twin was valid on every seed there.
	CaughtBy  string `json:"caught_by"`
	Rate      string `json:"rate"`
	TwinValid bool   `json:"twin_valid"`
	Cause     string `json:"cause,omitempty"`
	// Uncaught is the plan's reason why no realistic fault catches the mutant, when it has no scenario to try.
	Uncaught string        `json:"uncaught,omitempty"`
	Trials   []MutantTrial `json:"trials"`
}

// MutantScore is the harness's mutation score: mutants caught of those run.
type MutantScore struct {
	Caught int `json:"caught"`
	Total  int `json:"total"`
}

// MutantReport is a run of the mutants command: the score, each mutant, and the runs behind them.
type MutantReport struct {
	Score   MutantScore    `json:"score"`
	Mutants []MutantResult `json:"mutants"`
	Seeds   []int64        `json:"seeds"`
	Elapsed time.Duration  `json:"elapsed_ns"`
	Matrix  *Matrix        `json:"-"`
}

// MutantCells lists the cells that judge the mutants: each mutant under each scenario of its plan (or of
// only, when not empty), and each twin under the same scenarios, each twin cell once.
func MutantCells(mutants []lock.Info, plans *scenarios.MutantPlans, only []string) []Cell {
	var cells []Cell
	seen := map[Cell]bool{}
	add := func(c Cell) {
		if !seen[c] {
			seen[c] = true
			cells = append(cells, c)
		}
	}
	for _, m := range mutants {
		scs := only
		if len(scs) == 0 {
			p, _ := plans.Lookup(m.Name)
			scs = p.KilledBy
		}
		for _, sc := range scs {
			add(Cell{Scenario: sc, Strategy: m.Name})
			add(Cell{Scenario: sc, Strategy: m.Twin})
		}
	}
	return cells
}

// RunMutants runs the mutants' cells, then their twins' where they are needed: under the first scenario of each
// mutant's plan (or of only) that caught it on MutantShare of the seeds. A twin's runs go to the scenario's end,
// and a scenario that did not catch the mutant proves nothing whatever the twin does there: running the twin only
// where the mutant was caught halves the time. A sharded plan runs every twin cell at once instead (a shard does
// not see the other shards' catches).
func RunMutants(ctx context.Context, plan Plan, mutants []lock.Info, plans *scenarios.MutantPlans, only []string, onRun func(Cell, Outcome)) (*Matrix, error) {
	cells := MutantCells(mutants, plans, only)
	plan.StopOnViolation = IsMutantCell
	if plan.Shard.N > 1 {
		plan.Cells = cells
		return Run(ctx, plan, onRun)
	}
	plan.Cells = slices.DeleteFunc(slices.Clone(cells), func(c Cell) bool { return !IsMutantCell(c) })
	first, err := Run(ctx, plan, onRun)
	if err != nil || first == nil {
		return first, err
	}
	var twins []Cell
	for _, m := range mutants {
		scs := only
		if len(scs) == 0 {
			p, _ := plans.Lookup(m.Name)
			scs = p.KilledBy
		}
		p, _ := plans.Lookup(m.Name)
		for _, sc := range scs {
			c, _ := first.Cell(sc, m.Name)
			if catches(c, p.CaughtAs) >= RequiredCatches(len(c.Runs), MutantShare) {
				if tc := (Cell{Scenario: sc, Strategy: m.Twin}); !slices.Contains(twins, tc) {
					twins = append(twins, tc)
				}
				break
			}
		}
	}
	if len(twins) == 0 {
		return first, nil
	}
	plan.Cells = twins
	second, err := Run(ctx, plan, onRun)
	if second == nil {
		return first, err
	}
	all, merr := Merge([]*Matrix{first, second})
	if merr != nil {
		return first, merr
	}
	all.Elapsed = first.Elapsed + second.Elapsed
	return all, err
}

// IsMutantCell says whether a cell runs a mutant: its runs stop at their first violation, since the only question
// is whether the mutant is caught; its twin's run to the end, since the question there is whether it is valid.
func IsMutantCell(c Cell) bool { return lock.IsMutant(c.Strategy) }

// JudgeMutants scores the mutants from a matrix that holds their cells (MutantCells).
func JudgeMutants(m *Matrix, mutants []lock.Info, plans *scenarios.MutantPlans, only []string) *MutantReport {
	rep := &MutantReport{Seeds: m.Seeds, Elapsed: m.Elapsed, Matrix: m}
	for _, mu := range mutants {
		p, _ := plans.Lookup(mu.Name)
		r := MutantResult{Name: mu.Name, Twin: mu.Twin, Bug: mu.Summary}
		scs := only
		if len(scs) == 0 {
			scs = p.KilledBy
			r.Uncaught = p.Uncaught
		}
		for _, sc := range scs {
			t := trial(m, sc, mu, p.CaughtAs)
			r.Trials = append(r.Trials, t)
			if t.Kills && r.CaughtBy == "" {
				r.CaughtBy, r.Rate, r.TwinValid, r.Cause = sc, fmt.Sprintf("%d/%d", t.Caught, t.Seeds), true, t.Cause
			}
		}
		if r.CaughtBy == "" && len(r.Trials) > 0 {
			best := r.Trials[0] // report the closest miss: the most catches
			for _, t := range r.Trials[1:] {
				if t.Caught > best.Caught {
					best = t
				}
			}
			r.Rate, r.TwinValid, r.Cause = fmt.Sprintf("%d/%d", best.Caught, best.Seeds), best.TwinRuns > 0 && best.TwinValid == best.TwinRuns, best.Cause
		}
		rep.Score.Total++
		if r.CaughtBy != "" {
			rep.Score.Caught++
		}
		rep.Mutants = append(rep.Mutants, r)
	}
	return rep
}

// catches is how many of a mutant cell's runs caught it: found invalid, or for a liveness bug (caught as
// "stuck") found with a stuck key.
func catches(c CellResult, as string) int {
	if as == scenarios.CaughtStuck {
		return c.StuckCount()
	}
	return c.Count(string(checker.Invalid))
}

// twinClean is how many of a twin cell's runs clear it: valid, and for a liveness bug not stuck either.
func twinClean(c CellResult, as string) int {
	n := 0
	for _, r := range c.Runs {
		if r.Verdict == string(checker.Valid) && (as != scenarios.CaughtStuck || r.Live != "stuck") {
			n++
		}
	}
	return n
}

func trial(m *Matrix, scenario string, mu lock.Info, as string) MutantTrial {
	t := MutantTrial{Scenario: scenario, As: as}
	mc, _ := m.Cell(scenario, mu.Name)
	tc, _ := m.Cell(scenario, mu.Twin)
	t.Seeds = len(mc.Runs)
	t.Caught = catches(mc, as)
	t.TwinValid = twinClean(tc, as)
	for _, r := range mc.Runs {
		if as == scenarios.CaughtStuck && r.Stuck != "" {
			t.Cause = "stuck: " + r.Stuck
			break
		}
		if as != scenarios.CaughtStuck && r.Cause != "" {
			t.Cause = r.Cause
			break
		}
	}
	t.FirstAt = mc.MedianFirstViolation()
	t.TwinRuns = len(tc.Runs)
	t.Kills = t.Seeds > 0 && t.Caught >= RequiredCatches(t.Seeds, MutantShare) && t.TwinValid == len(tc.Runs) && len(tc.Runs) == t.Seeds
	return t
}

// WriteMarkdown writes the score and a line per mutant.
func (r *MutantReport) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "Mutation score: %d of %d mutants caught (a mutant counts as caught where it is invalid, or stuck for a liveness bug, on %d of %d seeds and its twin valid, and not stuck, on every one).\n\n",
		r.Score.Caught, r.Score.Total, RequiredCatches(len(r.Seeds), MutantShare), len(r.Seeds))
	fmt.Fprintln(w, "| mutant | twin | planted bug | caught by | rate | twin valid | cause |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, mu := range r.Mutants {
		by := mu.CaughtBy
		if by == "" {
			by = "**not caught**"
			if len(mu.Trials) > 0 {
				var tried []string
				for _, t := range mu.Trials {
					twin := "twin not run"
					if t.TwinRuns > 0 {
						twin = fmt.Sprintf("twin valid %d/%d", t.TwinValid, t.TwinRuns)
					}
					tried = append(tried, fmt.Sprintf("%s %d/%d (%s)", t.Scenario, t.Caught, t.Seeds, twin))
				}
				by += ": " + strings.Join(tried, "; ")
			} else if mu.Uncaught != "" {
				by += ": " + mu.Uncaught
			}
		}
		tv := "–"
		if mu.CaughtBy != "" || slices.ContainsFunc(mu.Trials, func(t MutantTrial) bool { return t.TwinRuns > 0 }) {
			tv = map[bool]string{true: "yes", false: "no"}[mu.TwinValid]
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s |\n", mu.Name, mu.Twin, mu.Bug, by, dash(mu.Rate), tv, dash(mu.Cause))
	}
	fmt.Fprintf(w, "\nSeeds %s; %d runs in %s.\n", seedRange(r.Seeds), runsOf(r.Matrix), r.Elapsed.Round(time.Second))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func runsOf(m *Matrix) int {
	if m == nil {
		return 0
	}
	n := 0
	for _, c := range m.Cells {
		n += len(c.Runs)
	}
	return n
}

// WriteAll writes mutants.md, mutants.json and the matrix behind them (matrix.{md,json,html}) into dir.
func (r *MutantReport) WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "mutants.md"))
	if err != nil {
		return err
	}
	if err := r.WriteMarkdown(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "mutants.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if r.Matrix != nil {
		return r.Matrix.WriteAll(dir)
	}
	return nil
}

// ReadMutantReport reads a mutants.json.
func ReadMutantReport(path string) (*MutantReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r MutantReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
