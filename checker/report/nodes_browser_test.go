//go:build linux

package report

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/history"
)

var nodeScreenshot = flag.String("node-screenshot", "", "save a screenshot of the small run's report with its node lanes, zoomed to V1, to this path")

// TestBrowserNodeLanes opens the small run's report with its node record in headless Chromium and reads back what
// the page's script drew: a lane per node, every hold of the record in view of the whole run, the violating pair's
// holds outlined on the story's nodes and the first holder's lost locks ringed, without a script error, at the
// whole run, zoomed to V1, and through the self-test's tooltips and hit tests of the highlighted holds.
func TestBrowserNodeLanes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	in := smallNodeInput(t)
	tl := buildTimeline(in.History, in.Violations)
	buildNodeLanes(tl, in.Nodes, in.Violations)
	lost := 0
	for _, h := range tl.Marks[0].Holds {
		if h.Lost {
			lost++
		}
	}
	if len(tl.Marks[0].Holds) != 6 || lost != 3 {
		t.Fatalf("the fixture highlights %d holds, %d lost; want both holders on three nodes, the first's three lost", len(tl.Marks[0].Holds), lost)
	}
	page := writePage(t, in)
	tests := []struct {
		name, at string
		// allHolds: the view is the whole run, so every hold is in view and drawn; at V1 only some are.
		allHolds bool
	}{
		{"the whole run draws every hold and the pair's", "", true},
		{"zoomed to V1 the pair's holds and lost locks stay drawn", "#v1", false},
		{"the self-test describes and hit-tests the node lanes", "#selftest", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dom, stderr := runChromium(t, page+tc.at, chromiumDeadline, "--dump-dom")
			a := bodyAttrs(t, dom)
			if a["errors"] != "0" || a["ready"] != "1" {
				t.Fatalf("data-errors=%q (%s) data-ready=%q", a["errors"], a["error"], a["ready"])
			}
			if a["node-lanes"] != "3" {
				t.Errorf("data-node-lanes=%q, want one per node: 3", a["node-lanes"])
			}
			inView, _ := strconv.Atoi(a["holds-in-view"])
			drawn, _ := strconv.Atoi(a["holds-drawn"])
			if (tc.allHolds && (inView != len(tl.Holds) || drawn != inView)) || drawn < 6 || drawn > inView {
				t.Errorf("data-holds-in-view=%q data-holds-drawn=%q, want all %d at the whole run (none shares a pixel) and at least the pair's 6",
					a["holds-in-view"], a["holds-drawn"], len(tl.Holds))
			}
			if a["node-highlighted"] != "6" || a["node-lost"] != "3" {
				t.Errorf("data-node-highlighted=%q data-node-lost=%q, want the pair's 6 holds and the first holder's 3 lost locks", a["node-highlighted"], a["node-lost"])
			}
			if tc.at == "#selftest" && (a["selftest"] == "" || a["selftest"] == "0") {
				t.Errorf("self-test did not run: data-selftest=%q", a["selftest"])
			}
			if c := consoleLines(stderr); len(c) > 0 {
				t.Errorf("console output:\n%s", strings.Join(c, "\n"))
			}
		})
	}
	if *nodeScreenshot != "" {
		runChromium(t, page+"#v1", chromiumDeadline, "--screenshot="+*nodeScreenshot, "--window-size=1400,1100")
	}
}

// TestBrowserNodeLanesEdgeCases: hostile names on the node lanes, a record with no holds, and a large run with five
// node lanes of tens of thousands of holds open without error and pass their self-tests.
func TestBrowserNodeLanesEdgeCases(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	// Markup that runs when a tooltip puts it into the page unescaped.
	evil := `</script><script>alert(1)</script><img src=x onerror="document.body.setAttribute('data-pwned','1')"><!--"'`
	hostile := smallNodeInput(t)
	hostile.Nodes.Tenures = append(hostile.Nodes.Tenures, Tenure{Node: "n1", Key: "k0" + evil, Owner: evil, From: ms, To: 2 * ms,
		End: evil, By: evil, Foreign: []Renewal{{At: ms, By: evil}}})
	hostile.Nodes.Events = append(hostile.Nodes.Events, history.NodeEvent{T: ms, Node: "n2", Ev: history.NodeNote, Note: evil})
	hostile.Violations[0].Story = evil
	empty := smallInput(t)
	empty.Nodes = &NodeRecord{}
	h, viols := synthRun{Groups: 3, Workers: 8, Ops: 100_000, Violations: true, Seed: 5}.Generate()
	large := Input{History: h, Violations: viols, Verdict: "invalid", Nodes: synthNodes(h)}
	for _, tc := range []struct {
		name  string
		in    Input
		nodes string
	}{
		{"hostile names are drawn as text", hostile, "3"},
		{"an empty record draws no node lane", empty, "0"},
		{"a large run draws five node lanes", large, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := writePage(t, tc.in)
			dom, stderr := runChromium(t, page+"#selftest", chromiumDeadline, "--dump-dom")
			a := bodyAttrs(t, dom)
			if a["pwned"] != "" {
				t.Error("a name from the node record ran as markup in a tooltip")
			}
			if a["errors"] != "0" || a["ready"] != "1" || a["selftest"] == "" || a["node-lanes"] != tc.nodes {
				t.Errorf("data-errors=%q (%s) data-ready=%q data-selftest=%q data-node-lanes=%q (want %s)",
					a["errors"], a["error"], a["ready"], a["selftest"], a["node-lanes"], tc.nodes)
			}
			if c := consoleLines(stderr); len(c) > 0 {
				t.Errorf("console output:\n%s", strings.Join(c, "\n"))
			}
			st, _ := os.Stat(page)
			t.Logf("%s: %d bytes; init %s ms, first frame %s ms", filepath.Base(page), st.Size(), a["init-ms"], a["draw-ms"])
		})
	}
}
