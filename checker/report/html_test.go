package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoExternalURLs: the page opens from disk with no network. No src or href leaves the directory, no
// stylesheet imports or url() fetches anything, and no http(s) address appears anywhere.
func TestNoExternalURLs(t *testing.T) {
	h, viols := synthRun{Groups: 2, Workers: 3, Ops: 400, Violations: true, Seed: 1}.Generate()
	for name, in := range map[string]Input{
		"small":     smallInput(t),
		"synthetic": {History: h, Violations: viols, Verdict: "invalid", Links: map[string]string{"linearizability.html": "porcupine"}},
	} {
		t.Run(name, func(t *testing.T) {
			page := render(t, in)
			for _, bad := range []string{"http://", "https://", "@import", "url(", "<link", "<iframe", "<img", "fetch(", "XMLHttpRequest"} {
				if strings.Contains(page, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			attr := regexp.MustCompile(`(?i)\b(?:src|href|action)\s*=\s*["']?([^"'\s>]*)`)
			for _, m := range attr.FindAllStringSubmatch(page, -1) {
				if v := m[1]; strings.Contains(v, ":") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/") {
					t.Errorf("attribute %q points outside the run directory", m[0])
				}
			}
			if !strings.Contains(page, `href="linearizability.html"`) {
				t.Error("the link to the porcupine visualisation is missing")
			}
		})
	}
}

func TestLinksMustBeRelative(t *testing.T) {
	for _, href := range []string{"http://example.org/x.html", "https://x", "//host/x", "/etc/passwd", "javascript:alert(1)", "file:///x", ""} {
		in := smallInput(t)
		in.Links = map[string]string{href: "x"}
		if err := Write(new(strings.Builder), in); err == nil {
			t.Errorf("link %q accepted", href)
		}
	}
	in := smallInput(t)
	in.Links = map[string]string{"linearizability.html": "porcupine", "../latest/report.html": "previous run"}
	if err := Write(new(strings.Builder), in); err != nil {
		t.Errorf("relative links refused: %v", err)
	}
}

// TestSummary: the verdict, the explanation of each violation and the tables are in the page as text, so the
// page reads right even before its script runs.
func TestSummary(t *testing.T) {
	page := render(t, smallInput(t))
	for _, want := range []string{
		`class="top verdict-invalid"`, `<div class="verdict">invalid</div>`,
		"partition <span class=\"sep\">/</span> redlock-naive", "seed 42", "4 workers",
		`id="v1"`, "lease outlived", "client-side cause", "faults: client-stall",
		// A: the stalled holder, its lease ran out at 135 ms and it wrote at 180 ms.
		"g1w10", "valid until 0.135 s: wrote 45 ms after it ran out",
		"Both were inside their critical sections from 0.143 s to 0.160 s (17 ms) and both read 1: one increment was lost.", "A (g1w10) wrote after its own ValidUntil",
		"<th>in faults</th>", "<td>acquires tried</td>", "porcupine visualisation",
		`data-lanes="0"`, `data-violations="1"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	valid := render(t, Input{History: loadSmall(t), Verdict: "valid", Summary: "valid"})
	if !strings.Contains(valid, `verdict-valid`) || !strings.Contains(valid, "None: no two critical sections broke mutual exclusion.") {
		t.Error("a valid run does not say so")
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := WriteFile(path, smallInput(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
		t.Fatalf("report.html: %v %.40q", err, b)
	}
	in := smallInput(t)
	in.Links = map[string]string{"https://x": "x"}
	if err := WriteFile(filepath.Join(dir, "bad.html"), in); err == nil {
		t.Fatal("bad link accepted")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed write left files behind: %v", entries)
	}
}
