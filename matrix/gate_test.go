package matrix

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// gate runs the cells of exp with strategies resolved by resolve, 2 seeds each, and evaluates them.
func gate(t *testing.T, exp string, resolve func(string) (lock.Strategy, error), d time.Duration) ([]GateCell, *Matrix) {
	t.Helper()
	e, err := scenarios.ParseExpectations("test.yaml", []byte(exp))
	if err != nil {
		t.Fatal(err)
	}
	var cells []Cell
	for _, c := range e.Cells {
		cells = append(cells, Cell{c.Scenario, c.Strategy})
	}
	m, err := Run(context.Background(), Plan{Cells: cells, Seeds: []int64{1, 2}, Duration: d, Parallel: 2, OutDir: t.TempDir(), Strategy: resolve}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Evaluate(m, e, 1), m
}

func builtin(name string) (lock.Strategy, error) {
	info, err := lock.Lookup(name)
	if err != nil {
		return nil, err
	}
	return info.Make(), nil
}

// renamed runs one strategy's code under another's name: the mutant the gate must catch.
type renamed struct {
	lock.RedisStrategy
	name string
}

func (r renamed) Name() string { return r.name }

func TestTheGateFailsNamingTheCellWhenASafeLockIsMutatedIntoAnUnsafeOne(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	// The mutant: "lua" whose release deletes the key without comparing the token (setnx-del's release).
	mutant := func(name string) (lock.Strategy, error) {
		if name == "lua" {
			st, err := builtin("setnx-del")
			return renamed{st.(lock.RedisStrategy), "lua"}, err
		}
		return builtin(name)
	}
	cells, m := gate(t, "latency:\n  lua: {expect: safe, why: test}\n", mutant, 15*time.Second)
	failed := Failed(cells)
	if len(failed) != 1 || failed[0].Cell.String() != "latency/lua" {
		t.Fatalf("gate did not fail on the mutant: %+v", cells)
	}
	if !strings.Contains(failed[0].Message, "expected safe") || !strings.Contains(failed[0].Message, "overlap") {
		t.Fatalf("failure without counterexample: %s", failed[0].Message)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, m, cells); err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	if c := suites.Suites[0].Cases[0]; c.Failure == nil || !strings.Contains(c.Name, "latency/lua") || !strings.Contains(c.Failure.Text, "overlap") {
		t.Fatalf("junit case %+v", c)
	}
}

func TestTheGateFailsWithNotCaughtWhenASafeLockIsMarkedUnsafe(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	cells, _ := gate(t, "baseline:\n  lua: {expect: unsafe, why: test}\n", builtin, 3*time.Second)
	failed := Failed(cells)
	if len(failed) != 1 || !strings.HasPrefix(failed[0].Message, "not caught") {
		t.Fatalf("gate did not say not caught: %+v", cells)
	}
}

func TestRequiredCatchesRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		n     int
		share float64
		want  int
	}{{10, 0.9, 9}, {2, 1, 2}, {3, 0.9, 3}, {5, 0.5, 3}} {
		if got := RequiredCatches(tc.n, tc.share); got != tc.want {
			t.Errorf("RequiredCatches(%d, %v) = %d, want %d", tc.n, tc.share, got, tc.want)
		}
	}
}

func TestAStallsCellPassesOnlyWhileTheLockMakesTooLittleProgressForAVerdict(t *testing.T) {
	stalled := Outcome{Seed: 1, Verdict: "unknown", Written: 3, MinWritten: 20}
	caught := Outcome{Seed: 2, Verdict: "invalid", Written: 40, MinWritten: 20}
	progressed := Outcome{Seed: 3, Verdict: "valid", Written: 90, MinWritten: 20}
	timedOut := Outcome{Seed: 4, Verdict: "unknown", Written: 900, MinWritten: 20}
	for _, tc := range []struct {
		name string
		runs []Outcome
		pass bool
	}{
		{"every seed stalled passes", []Outcome{stalled, stalled}, true},
		{"a seed that stalled and one caught violating pass", []Outcome{stalled, caught}, true},
		{"a seed that made progress and stayed valid fails", []Outcome{stalled, progressed}, false},
		{"a seed unknown because the search timed out fails", []Outcome{stalled, timedOut}, false},
		{"a seed the harness could not run fails", []Outcome{stalled, {Seed: 5, Verdict: "error", Err: "boom"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := scenarios.ParseExpectations("test.yaml", []byte("baseline:\n  redlock-naive: {expect: stalls, why: test}\n"))
			if err != nil {
				t.Fatal(err)
			}
			m := &Matrix{Cells: []CellResult{{Cell: Cell{"baseline", "redlock-naive"}, Runs: tc.runs}}}
			cells := Evaluate(m, e, 0.9)
			if len(cells) != 1 || cells[0].Pass != tc.pass {
				t.Fatalf("pass = %v, want %v: %+v", cells[0].Pass, tc.pass, cells)
			}
			if !tc.pass && !strings.Contains(cells[0].Message, "expected to stall") {
				t.Fatalf("message does not say what was expected: %s", cells[0].Message)
			}
		})
	}
}

func TestAGateJudgedFromASavedMatrixFailsACellTheMatrixNeverRan(t *testing.T) {
	e, err := scenarios.ParseExpectations("test.yaml", []byte("baseline:\n  lua: {expect: safe, why: t}\n  redlock: {expect: safe, why: t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	saved := &Matrix{Seeds: []int64{1}, Cells: []CellResult{{Cell: Cell{"baseline", "lua"}, Runs: []Outcome{{Seed: 1, Verdict: "valid", Written: 90, MinWritten: 20}}}}}
	path := t.TempDir() + "/matrix.json"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.WriteJSON(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	cells := Evaluate(m.Only([]Cell{{"baseline", "lua"}, {"baseline", "redlock"}}), e, 0.9)
	if len(cells) != 2 || !cells[0].Pass || cells[1].Pass || !strings.HasPrefix(cells[1].Message, "not measured") {
		t.Fatalf("want lua passing and redlock not measured: %+v", cells)
	}
}

func TestAnUnsafeCellWithAMeasuredShareIsHeldToThatShareAndNoLower(t *testing.T) {
	e, err := scenarios.ParseExpectations("test.yaml", []byte("latency:\n  lua: {expect: unsafe, share: 0.3, why: t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(invalid int) bool {
		var runs []Outcome
		for i := range 10 {
			v := "valid"
			if i < invalid {
				v = "invalid"
			}
			runs = append(runs, Outcome{Seed: int64(i + 1), Verdict: v, Written: 50, MinWritten: 20})
		}
		return Evaluate(&Matrix{Cells: []CellResult{{Cell: Cell{"latency", "lua"}, Runs: runs}}}, e, 0.9)[0].Pass
	}
	if !run(3) {
		t.Fatal("caught on 3 of 10 with a share of 0.3 failed")
	}
	if run(2) {
		t.Fatal("caught on 2 of 10 with a share of 0.3 passed")
	}
}

func TestASafeCellThatMayStallToleratesStalledSeedsButNotAViolationOrNoVerdictAtAll(t *testing.T) {
	e, err := scenarios.ParseExpectations("test.yaml", []byte("reply-loss:\n  lua: {expect: safe, may_stall: true, why: t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	valid := Outcome{Seed: 1, Verdict: "valid", Written: 40, MinWritten: 20}
	stalled := Outcome{Seed: 2, Verdict: "unknown", Written: 5, MinWritten: 20}
	invalid := Outcome{Seed: 3, Verdict: "invalid", Written: 40, MinWritten: 20}
	for _, tc := range []struct {
		name string
		runs []Outcome
		pass bool
	}{
		{"valid and stalled seeds pass", []Outcome{valid, stalled}, true},
		{"a violation fails", []Outcome{valid, stalled, invalid}, false},
		{"only stalled seeds fail: nothing shows the lock safe", []Outcome{stalled, stalled}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(&Matrix{Cells: []CellResult{{Cell: Cell{"reply-loss", "lua"}, Runs: tc.runs}}}, e, 0.9)[0]
			if got.Pass != tc.pass {
				t.Fatalf("pass = %v, want %v: %s", got.Pass, tc.pass, got.Message)
			}
		})
	}
}

func TestARareCellReportsItsCatchesWithoutRequiringThemAndFailsOnlyWhenARunCouldNotBeMade(t *testing.T) {
	e, err := scenarios.ParseExpectations("test.yaml", []byte("nemesis-mix:\n  lua: {expect: rare, why: t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := e.Lookup("nemesis-mix", "lua"); c.Steady() {
		t.Fatal("a rare cell counts as steady, so a one-seed profile would hold it")
	}
	tests := []struct {
		name string
		runs []Outcome
		pass bool
	}{
		{"no catch on any seed passes", []Outcome{{Seed: 1, Verdict: "valid", Written: 50, MinWritten: 20}, {Seed: 2, Verdict: "valid", Written: 50, MinWritten: 20}}, true},
		{"a catch passes", []Outcome{{Seed: 1, Verdict: "invalid", Written: 50, MinWritten: 20}, {Seed: 2, Verdict: "valid", Written: 50, MinWritten: 20}}, true},
		{"a stalled seed passes", []Outcome{{Seed: 1, Verdict: "unknown", Written: 3, MinWritten: 20}, {Seed: 2, Verdict: "valid", Written: 50, MinWritten: 20}}, true},
		{"a run the harness could not make fails", []Outcome{{Seed: 1, Verdict: "error", Err: "boom"}, {Seed: 2, Verdict: "valid", Written: 50, MinWritten: 20}}, false},
		{"a search that ran out of time fails", []Outcome{{Seed: 1, Verdict: "unknown", Written: 50, MinWritten: 20}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cells := Evaluate(&Matrix{Cells: []CellResult{{Cell: Cell{"nemesis-mix", "lua"}, Runs: tc.runs}}}, e, 0.9)
			if cells[0].Pass != tc.pass {
				t.Fatalf("pass = %v, want %v: %s", cells[0].Pass, tc.pass, cells[0].Message)
			}
		})
	}
}

func TestTheGateHoldsEachCellToItsLivenessExpectation(t *testing.T) {
	live := Outcome{Seed: 1, Verdict: "valid", Live: "ok", Written: 50, MinWritten: 20}
	stuck := Outcome{Seed: 2, Verdict: "valid", Live: "stuck", Stuck: "k1 stuck since 2.00s: g1w4 crashed", Written: 50, MinWritten: 20}
	tests := []struct {
		name, stuckField string
		runs             []Outcome
		fails            string
	}{
		{"a lock never stuck when measured fails the gate the day it is", "", []Outcome{live, stuck}, "stuck: lua never left a lock"},
		{"a lock never stuck passes while it stays so", "", []Outcome{live, live}, ""},
		{"a lock known to get stuck fails when the harness stops finding it", "always", []Outcome{live, stuck}, "not stuck"},
		{"a lock known to get stuck passes while it is found stuck", "always", []Outcome{stuck, stuck}, ""},
		{"a lock sometimes stuck passes either way", "sometimes", []Outcome{live, stuck}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := "protocol-crash:\n  lua: {expect: safe, why: test"
			if tc.stuckField != "" {
				y += ", stuck: " + tc.stuckField
			}
			e, err := scenarios.ParseExpectations("x.yaml", []byte(y+"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			m := &Matrix{Seeds: []int64{1, 2}, Cells: []CellResult{{Cell: Cell{"protocol-crash", "lua"}, Runs: tc.runs}}}
			g := Evaluate(m, e, 0.9)
			if len(g) != 1 {
				t.Fatalf("%d cells", len(g))
			}
			if tc.fails == "" && !g[0].Pass {
				t.Fatalf("failed: %s", g[0].Message)
			}
			if tc.fails != "" && (g[0].Pass || !strings.Contains(g[0].Message, tc.fails)) {
				t.Fatalf("pass %v, message %q, want it to fail with %q", g[0].Pass, g[0].Message, tc.fails)
			}
		})
	}
}
