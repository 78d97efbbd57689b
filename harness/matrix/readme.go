package matrix

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/scenarios"
)

// Markers delimit the generated results table in a README, so that the gate keeps it true.
const (
	ReadmeStart = "<!-- results-table:start -->"
	ReadmeEnd   = "<!-- results-table:end -->"
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
			case scenarios.Stalls:
				letter, n = "L", 0
				for _, r := range g.Runs {
					if r.Stalled() {
						n++
					}
				}
			}
			fmt.Fprintf(&b, " %s %s %d/%d |", mark, letter, n, len(g.Runs))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nS = expected safe, U = expected unsafe (n/m: runs found invalid of m seeds), R = unsafe but caught on few "+
		"seeds, so its catches are reported, not required; L = expected to stall, "+
		"too little progress for a verdict (n/m: runs stalled); ✓ = as expected, ✗ = not. "+
		"Measured over %d seeds per cell on %s in %s (`make readme-table`).\n", seeds, m.Started.UTC().Format(time.DateOnly), m.Elapsed.Round(time.Second))
	return b.String()
}

// UpdateReadme replaces the text between the markers in path with the gate's table.
func UpdateReadme(path string, m *Matrix, cells []GateCell, seeds int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte(ReadmeStart))
	j := bytes.Index(b, []byte(ReadmeEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s markers", path, ReadmeStart, ReadmeEnd)
	}
	var out bytes.Buffer
	out.Write(b[:i+len(ReadmeStart)])
	out.WriteString("\n" + GateTable(m, cells, seeds))
	out.Write(b[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}
