package main

import (
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/matrix"
)

func TestTheLiveGridShowsEachCellsVerdictsSoFarAndADotForCellsNotStarted(t *testing.T) {
	cells := []matrix.Cell{
		{Scenario: "baseline", Strategy: "lua"}, {Scenario: "baseline", Strategy: "setnx-del"},
		{Scenario: "latency", Strategy: "lua"}, {Scenario: "latency", Strategy: "setnx-del"},
	}
	g := newLiveGrid(cells, 3)
	g.add(cells[3], matrix.Outcome{Seed: 1, Verdict: "invalid"})
	g.add(cells[3], matrix.Outcome{Seed: 2, Verdict: "invalid"})
	g.add(cells[3], matrix.Outcome{Seed: 3, Verdict: "valid"})
	g.add(cells[2], matrix.Outcome{Seed: 1, Verdict: "unknown"})
	var b strings.Builder
	g.render(&b, 4, 12)
	lines := strings.Split(b.String(), "\n")
	tests := []struct {
		name, line string
		fields     []string
	}{
		{"the header names the strategies in the plan's order", lines[0], []string{"scenario", "lua", "setnx-del"}},
		{"a scenario with no finished run shows dots", lines[1], []string{"baseline", "·", "·"}},
		{"finished seeds are counted by verdict, and a cell still running says so", lines[2], []string{"latency", "?1", "…", "✗2", "✓1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Fields(tc.line); strings.Join(got, " ") != strings.Join(tc.fields, " ") {
				t.Fatalf("line %q, want fields %q", tc.line, tc.fields)
			}
		})
	}
	if !strings.Contains(b.String(), "4 of 12 runs done") {
		t.Fatalf("no progress line:\n%s", b.String())
	}
	// Columns line up whatever the byte length of the marks.
	if a, c := strings.Index(lines[0], "setnx-del"), len([]rune(lines[2][:strings.Index(lines[2], "✗2")])); a != c {
		t.Fatalf("setnx-del's column starts at %d in the header and %d in the latency row:\n%s", a, c, b.String())
	}
}
