package matrix

import (
	"bytes"
	"context"
	"encoding/xml"
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
	lock.Strategy
	name string
}

func (r renamed) Name() string { return r.name }

func TestTheGateFailsNamingTheCellWhenASafeLockIsMutatedIntoAnUnsafeOne(t *testing.T) {
	// The mutant: "lua" whose release deletes the key without comparing the token (setnx-del's release).
	mutant := func(name string) (lock.Strategy, error) {
		if name == "lua" {
			st, err := builtin("setnx-del")
			return renamed{st, "lua"}, err
		}
		return builtin(name)
	}
	cells, m := gate(t, "latency:\n  lua: {expect: safe, why: test}\n", mutant, 8*time.Second)
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
