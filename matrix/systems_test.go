package matrix

import (
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/scenarios"
)

func TestANotApplicableCellPassesOnlyWhenExpectedNotToApplyAndEveryRunWasRefused(t *testing.T) {
	e, err := scenarios.ParseExpectations("test.yaml", []byte("clock-jump:\n  lua: {expect: n/a, why: t}\nbaseline:\n  lua: {expect: safe, why: t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	na := Outcome{Seed: 1, Verdict: NotApplicable, Err: "the local backend cannot move a node's clock"}
	valid := Outcome{Seed: 2, Verdict: "valid", Written: 40, MinWritten: 20}
	for _, tc := range []struct {
		name, scenario string
		runs           []Outcome
		pass           bool
	}{
		{"every run refused, as expected", "clock-jump", []Outcome{na, na}, true},
		{"a run made where none was expected to be", "clock-jump", []Outcome{na, valid}, false},
		{"a safe cell whose runs were refused", "baseline", []Outcome{na, valid}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(&Matrix{Cells: []CellResult{{Cell: Cell{tc.scenario, "lua"}, Runs: tc.runs}}}, e, 0.9)[0]
			if got.Pass != tc.pass {
				t.Fatalf("pass = %v, want %v: %s", got.Pass, tc.pass, got.Message)
			}
		})
	}
}

func TestANotApplicableCellReadsNAAndIsNotCountedAsUnknown(t *testing.T) {
	c := CellResult{Cell: Cell{"clock-jump", "etcd-mutex"}, Runs: []Outcome{{Seed: 1, Verdict: NotApplicable}, {Seed: 2, Verdict: NotApplicable}}}
	if c.Headline() != NotApplicable || c.Worst() != NotApplicable {
		t.Fatalf("headline %q, worst %q; want n/a", c.Headline(), c.Worst())
	}
}

func TestATableOfSeveralSystemsGroupsItsColumnsBySystemAndNamesThem(t *testing.T) {
	m := &Matrix{Cells: []CellResult{
		{Cell: Cell{"baseline", "etcd-mutex"}, System: "etcd", Runs: []Outcome{{Seed: 1, Verdict: "valid"}}},
		{Cell: Cell{"baseline", "lua"}, System: "redis", Runs: []Outcome{{Seed: 1, Verdict: "valid"}}},
		{Cell: Cell{"baseline", "redlock"}, System: "redis", Runs: []Outcome{{Seed: 1, Verdict: "valid"}}},
	}}
	if got := strings.Join(m.Strategies(), ","); got != "lua,redlock,etcd-mutex" {
		t.Fatalf("columns %s; want Redis's strategies first, then etcd's", got)
	}
	var b strings.Builder
	if err := m.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| *system* | redis | redis | etcd |") {
		t.Fatalf("the table names no system per column:\n%s", b.String())
	}
	one := &Matrix{Cells: m.Cells[1:]}
	if one.MultiSystem() {
		t.Fatal("a table of one system names its system on every column")
	}
}

func TestAMergedTableCountsTheRunsItHoldsNotEveryCellTimesEverySeed(t *testing.T) {
	m := &Matrix{Seeds: []int64{1, 2, 3}, Cells: []CellResult{
		{Cell: Cell{"baseline", "lua"}, Runs: []Outcome{{Seed: 1, Verdict: "valid"}, {Seed: 2, Verdict: "valid"}, {Seed: 3, Verdict: "valid"}}},
		{Cell: Cell{"baseline", "redlock"}, Runs: []Outcome{{Seed: 1, Verdict: "valid"}}},
	}}
	var b strings.Builder
	if err := m.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "; 4 runs in") {
		t.Fatalf("a matrix of 4 runs says otherwise:\n%s", b.String())
	}
}
