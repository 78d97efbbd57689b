package matrix

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteMarkdown writes the table: one row per scenario, one column per strategy, each cell the verdict over
// seeds and the rate of critical sections.
func (m *Matrix) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	sts := m.Strategies()
	fmt.Fprintf(&b, "| scenario | %s |\n|---|%s\n", strings.Join(sts, " | "), strings.Repeat("---|", len(sts)))
	if m.MultiSystem() {
		fmt.Fprintf(&b, "| *system* | %s |\n", strings.Join(m.Systems(), " | "))
	}
	for _, sc := range m.Scenarios() {
		fmt.Fprintf(&b, "| %s |", sc)
		for _, st := range sts {
			c, ok := m.Cell(sc, st)
			if !ok {
				b.WriteString(" |")
				continue
			}
			cause := ""
			if cs := c.Causes(); len(cs) > 0 {
				cause = " (" + strings.Join(cs, ", ") + ")"
			}
			fmt.Fprintf(&b, " %s%s; %.0f cs/s |", c.Headline(), cause, c.CSPerSec())
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nSeeds %s; %d runs in %s.\n", seedRange(m.Seeds), runsOf(m), m.Elapsed.Round(1e9))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the whole matrix with every run.
func (m *Matrix) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

var htmlTmpl = template.Must(template.New("m").Funcs(template.FuncMap{
	"rel": func(base, p string) string {
		if r, err := filepath.Rel(base, p); err == nil {
			return r
		}
		return p
	},
	"class": func(c CellResult) string { return c.Worst() },
}).Parse(`<!doctype html><html><head><meta charset="utf-8"><title>redlock-harness matrix</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:6px 8px;vertical-align:top}
td.valid{background:#e6f4ea}td.invalid{background:#fce8e6}td.unknown,td.error{background:#fef7e0}td.n\/a{background:#f1f3f4;color:#555}small{color:#555}a{color:#1a0dab}</style></head><body>
<h1>Strategies × scenarios</h1><p>Seeds {{.M.Seeds}}{{if .M.Duration}}, duration {{.M.Duration}}{{end}}; elapsed {{.M.Elapsed}}.</p>
<table>{{if .M.MultiSystem}}<tr><th>system</th>{{range .Systems}}<th><small>{{.}}</small></th>{{end}}</tr>{{end}}<tr><th>scenario</th>{{range .Strategies}}<th>{{.}}</th>{{end}}</tr>
{{range $sc := .Scenarios}}<tr><th>{{$sc}}</th>{{range $st := $.Strategies}}{{with index $.Cells $sc $st}}<td class="{{class .}}"><b>{{.Headline}}</b>{{range .Causes}}<br><small>{{.}}</small>{{end}}<br><small>{{printf "%.0f" .CSPerSec}} cs/s</small><br>{{range .Runs}}{{if .Dir}}<a href="{{rel $.Base .Dir}}/report.html" title="{{.Summary}}">{{.Seed}}</a> {{end}}{{end}}</td>{{else}}<td></td>{{end}}{{end}}</tr>
{{end}}</table></body></html>`))

// WriteHTML writes the table as a page linking every run's report; base is the directory the page is written to,
// so links are relative.
func (m *Matrix) WriteHTML(w io.Writer, base string) error {
	cells := map[string]map[string]*CellResult{}
	for i := range m.Cells {
		c := &m.Cells[i]
		if cells[c.Scenario] == nil {
			cells[c.Scenario] = map[string]*CellResult{}
		}
		cells[c.Scenario][c.Strategy] = c
	}
	return htmlTmpl.Execute(w, map[string]any{
		"M": m, "Strategies": m.Strategies(), "Systems": m.Systems(), "Scenarios": m.Scenarios(), "Cells": cells, "Base": base,
	})
}

// WriteAll writes matrix.md, matrix.json and matrix.html into dir.
func (m *Matrix) WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, f := range map[string]func(io.Writer) error{
		"matrix.md":   m.WriteMarkdown,
		"matrix.json": m.WriteJSON,
		"matrix.html": func(w io.Writer) error { return m.WriteHTML(w, dir) },
	} {
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = f(out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadJSON reads a matrix.json written by compare or gate, so that a measured matrix can be held to a new set of
// expectations, or its table regenerated, without running it again.
func ReadJSON(path string) (*Matrix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Matrix
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Cells) == 0 {
		return nil, fmt.Errorf("%s: no cells", path)
	}
	return &m, nil
}
