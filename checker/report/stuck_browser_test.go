//go:build linux

package report

import (
	"strings"
	"testing"
)

// TestBrowserStuckKey opens the report of a run with a stuck key in headless Chromium: the page draws the stuck
// span on the timeline's track without error, zooms to it at #s1, and its self-test hit-tests and describes it.
func TestBrowserStuckKey(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	page := writePage(t, stuckInput(t))
	for _, at := range []string{"", "#s1", "#selftest"} {
		dom, stderr := runChromium(t, page+at, chromiumDeadline, "--dump-dom")
		a := bodyAttrs(t, dom)
		if a["errors"] != "0" || a["ready"] != "1" || a["stuck"] != "1" || a["stuck-drawn"] != "1" {
			t.Errorf("at %q: data-errors=%q (%s) data-ready=%q data-stuck=%q data-stuck-drawn=%q, want the one span drawn",
				at, a["errors"], a["error"], a["ready"], a["stuck"], a["stuck-drawn"])
		}
		if at == "#selftest" && (a["selftest"] == "" || a["selftest"] == "0") {
			t.Errorf("self-test did not run: data-selftest=%q", a["selftest"])
		}
		if c := consoleLines(stderr); len(c) > 0 {
			t.Errorf("at %q, console output:\n%s", at, strings.Join(c, "\n"))
		}
	}
}
