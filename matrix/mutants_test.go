package matrix

import (
	"testing"

	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// cellOf makes a cell of n runs, each with the verdict and liveness verdict given.
func cellOf(scenario, strategy string, n int, verdict, live string) CellResult {
	c := CellResult{Cell: Cell{Scenario: scenario, Strategy: strategy}}
	for i := 0; i < n; i++ {
		o := Outcome{Seed: int64(i + 1), Verdict: verdict, Live: live}
		if live == "stuck" {
			o.Stuck = "k0 since 1.00s"
		}
		c.Runs = append(c.Runs, o)
	}
	return c
}

func TestAMutantIsCaughtByTheVerdictItsPlanNames(t *testing.T) {
	mu, err := lock.Lookup("redlock~partial-locks-kept")
	if err != nil {
		t.Fatal(err)
	}
	plans := func(as string) *scenarios.MutantPlans {
		return &scenarios.MutantPlans{Plans: []scenarios.MutantPlan{{Mutant: mu.Name, KilledBy: []string{"baseline"}, Why: "w", CaughtAs: as}}}
	}
	seeds := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name       string
		as         string
		mutant     CellResult
		twin       CellResult
		wantCaught bool
	}{
		{"a liveness bug stuck on every seed, its twin valid and never stuck, is caught", scenarios.CaughtStuck,
			cellOf("baseline", mu.Name, 10, "unknown", "stuck"), cellOf("baseline", mu.Twin, 10, "valid", "ok"), true},
		{"a liveness bug is not caught where its twin gets stuck too", scenarios.CaughtStuck,
			cellOf("baseline", mu.Name, 10, "unknown", "stuck"), cellOf("baseline", mu.Twin, 10, "valid", "stuck"), false},
		{"a liveness bug stuck on too few seeds is not caught", scenarios.CaughtStuck,
			func() CellResult {
				c := cellOf("baseline", mu.Name, 10, "unknown", "stuck")
				c.Runs[0].Live, c.Runs[1].Live = "ok", "ok"
				return c
			}(),
			cellOf("baseline", mu.Twin, 10, "valid", "ok"), false},
		{"a stuck key does not catch a mutant whose plan asks for a violation", scenarios.CaughtInvalid,
			cellOf("baseline", mu.Name, 10, "unknown", "stuck"), cellOf("baseline", mu.Twin, 10, "valid", "ok"), false},
		{"a violation on every seed catches a safety bug", scenarios.CaughtInvalid,
			cellOf("baseline", mu.Name, 10, "invalid", "ok"), cellOf("baseline", mu.Twin, 10, "valid", "stuck"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Matrix{Seeds: seeds, Cells: []CellResult{tc.mutant, tc.twin}}
			rep := JudgeMutants(m, []lock.Info{mu}, plans(tc.as), nil)
			if got := rep.Mutants[0].CaughtBy == "baseline"; got != tc.wantCaught {
				t.Fatalf("caught = %v, want %v (%+v)", got, tc.wantCaught, rep.Mutants[0])
			}
		})
	}
}
