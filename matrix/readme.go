package matrix

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/scenarios"
)

// Markers delimit the generated tables in a README, so that the gate keeps them true.
const (
	ReadmeStart           = "<!-- results-table:start -->"
	ReadmeEnd             = "<!-- results-table:end -->"
	ReadmeSeparationStart = "<!-- separation-table:start -->"
	ReadmeSeparationEnd   = "<!-- separation-table:end -->"
)

// GateTable renders the gated cells: the measured verdict over seeds next to the expectation.
func GateTable(m *Matrix, cells []GateCell, seeds int) string {
	exp := map[string]GateCell{}
	for _, c := range cells {
		exp[c.Cell.String()] = c
	}
	var b strings.Builder
	sts := m.Strategies()
	fmt.Fprintf(&b, "| scenario | %s |\n|---|%s\n", strings.Join(sts, " | "), strings.Repeat("---|", len(sts)))
	for _, sc := range m.Scenarios() {
		fmt.Fprintf(&b, "| %s |", sc)
		for _, st := range sts {
			g, ok := exp[sc+"/"+st]
			if !ok {
				b.WriteString(" |")
				continue
			}
			mark := "✓"
			if !g.Pass {
				mark = "✗"
			}
			letter, n := "S", g.Count("invalid")
			switch g.Expect.Expect {
			case scenarios.Unsafe:
				letter = "U"
			case scenarios.Rare:
				letter = "R"
			case scenarios.NotApplicable:
				letter, n = "n/a", g.Count(NotApplicable)
			case scenarios.Stalls:
				letter, n = "L", 0
				for _, r := range g.Runs {
					if r.Stalled() {
						n++
					}
				}
			}
			stuck := ""
			if k := g.StuckCount(); k > 0 {
				stuck = fmt.Sprintf(" K%d", k)
			}
			fmt.Fprintf(&b, " %s %s %d/%d%s |", mark, letter, n, len(g.Runs), stuck)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nS = expected safe, U = expected unsafe (n/m: runs found invalid of m seeds), R = unsafe but caught on few "+
		"seeds, so its catches are reported, not required; L = expected to stall, "+
		"too little progress for a verdict (n/m: runs stalled); n/a = the strategy's system cannot do the scenario's faults; Kn = a lock nobody could take (stuck) on n seeds; "+
		"✓ = as expected, ✗ = not. "+
		"Measured over %d seeds per cell on %s in %s (`make readme-table`).\n", seeds, m.Started.UTC().Format(time.DateOnly), m.Elapsed.Round(time.Second))
	return b.String()
}

// UpdateReadme replaces the text between the markers in path with the gate's table and, when the README has
// its markers, the separation table.
func UpdateReadme(path string, m *Matrix, cells []GateCell, seeds int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b, err = replaceBetween(b, ReadmeStart, ReadmeEnd, GateTable(m, cells, seeds))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Contains(b, []byte(ReadmeSeparationStart)) {
		if b, err = replaceBetween(b, ReadmeSeparationStart, ReadmeSeparationEnd, SeparationTable(m, 0.9)); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return os.WriteFile(path, b, 0o644)
}

func replaceBetween(b []byte, start, end, text string) ([]byte, error) {
	i := bytes.Index(b, []byte(start))
	j := bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("no %s … %s markers", start, end)
	}
	var out bytes.Buffer
	out.Write(b[:i+len(start)])
	out.WriteString("\n" + text)
	out.Write(b[j:])
	return out.Bytes(), nil
}
