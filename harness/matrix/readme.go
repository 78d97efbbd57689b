package matrix

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"
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
			inv := g.Count("invalid")
			fmt.Fprintf(&b, " %s %s %d/%d |", mark, strings.ToUpper(g.Expect.Expect[:1]), inv, len(g.Runs))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nS = expected safe, U = expected unsafe; n/m = runs found invalid of m seeds; ✓ = as expected. "+
		"Measured by `redlock-harness gate --seeds %d` on %s in %s.\n", seeds, m.Started.UTC().Format(time.DateOnly), m.Elapsed.Round(time.Second))
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
