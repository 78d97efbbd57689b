package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/matrix"
)

// liveGrid is the matrix as it fills, drawn on a terminal after every finished run: one row per scenario, one
// column per strategy, each cell the verdicts of its seeds so far. A matrix takes minutes; a table that fills
// shows at a glance which locks are falling, where a scrolling line per run does not.
type liveGrid struct {
	scenarios, strategies []string
	seeds                 int
	runs                  map[matrix.Cell][]matrix.Outcome
	started               time.Time
}

func newLiveGrid(cells []matrix.Cell, seeds int) *liveGrid {
	g := &liveGrid{seeds: seeds, runs: map[matrix.Cell][]matrix.Outcome{}, started: time.Now()}
	seen := map[string]bool{}
	for _, c := range cells {
		if !seen["sc:"+c.Scenario] {
			seen["sc:"+c.Scenario] = true
			g.scenarios = append(g.scenarios, c.Scenario)
		}
		if !seen["st:"+c.Strategy] {
			seen["st:"+c.Strategy] = true
			g.strategies = append(g.strategies, c.Strategy)
		}
	}
	return g
}

func (g *liveGrid) add(c matrix.Cell, o matrix.Outcome) { g.runs[c] = append(g.runs[c], o) }

// cell is one cell's text: ✗ invalid, ✓ valid, ? unknown, ! could not run, – not applicable to the system, each with its count of seeds; …
// while seeds are still to come; · before the first.
func (g *liveGrid) cell(c matrix.Cell) string {
	runs := g.runs[c]
	if len(runs) == 0 {
		return "·"
	}
	count := map[string]int{}
	for _, r := range runs {
		count[r.Verdict]++
	}
	var parts []string
	for _, v := range []struct{ verdict, mark string }{{"invalid", "✗"}, {"valid", "✓"}, {"unknown", "?"}, {"error", "!"}, {matrix.NotApplicable, "–"}} {
		if n := count[v.verdict]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s%d", v.mark, n))
		}
	}
	s := strings.Join(parts, " ")
	if len(runs) < g.seeds {
		s += " …"
	}
	return s
}

// render draws the grid and a line of progress below it.
func (g *liveGrid) render(w io.Writer, done, total int) {
	first := len("scenario")
	for _, sc := range g.scenarios {
		first = max(first, len(sc))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", first, "scenario")
	widths := make([]int, len(g.strategies))
	for i, st := range g.strategies {
		widths[i] = max(len(st), 8) // room for "✗5 ✓3 ?2"
		fmt.Fprintf(&b, "  %-*s", widths[i], st)
	}
	b.WriteString("\n")
	for _, sc := range g.scenarios {
		fmt.Fprintf(&b, "%-*s", first, sc)
		for i, st := range g.strategies {
			text := g.cell(matrix.Cell{Scenario: sc, Strategy: st})
			// Pad by runes: the marks are one column wide but several bytes long.
			fmt.Fprintf(&b, "  %s%s", text, strings.Repeat(" ", max(0, widths[i]-len([]rune(text)))))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%d of %d runs done in %s (✗ invalid, ✓ valid, ? unknown, ! could not run, – not applicable to the strategy's system; counts are seeds)\n",
		done, total, time.Since(g.started).Round(time.Second))
	_, _ = io.WriteString(w, b.String())
}
