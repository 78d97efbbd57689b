package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/history"
)

// decodeBlob reads the compact blob back into a timeline, as the page's script does (see encodeBlob).
func decodeBlob(t testing.TB, blob string) *timeline {
	t.Helper()
	var raw struct {
		V       int                 `json:"v"`
		End     int64               `json:"end"`
		Lanes   []string            `json:"lanes"`
		Keys    []string            `json:"keys"`
		Texts   []string            `json:"texts"`
		Faults  []fault             `json:"faults"`
		Marks   []mark              `json:"marks"`
		Notes   []string            `json:"notes"`
		Acquire map[string][]*int64 `json:"acquire"`
		Extend  map[string][]*int64 `json:"extend"`
		Release map[string][]*int64 `json:"release"`
		Lease   map[string][]*int64 `json:"lease"`
		CS      map[string][]*int64 `json:"cs"`
	}
	if err := json.Unmarshal([]byte(blob), &raw); err != nil {
		t.Fatalf("blob is not JSON: %v", err)
	}
	if raw.V != blobVersion {
		t.Fatalf("blob version %d", raw.V)
	}
	tl := &timeline{End: raw.End, Lanes: raw.Lanes, Keys: raw.Keys, Texts: raw.Texts, Faults: raw.Faults, Marks: raw.Marks, Notes: raw.Notes}
	type cols = map[string][]*int64
	each := func(c cols, f func(lane int, t0 int64, get func(string) (int64, bool))) {
		eachItem(t, len(tl.Lanes), c, f)
	}
	attempts := func(c cols) []attempt {
		out := []attempt{}
		each(c, func(lane int, t0 int64, get func(string) (int64, bool)) {
			a := attempt{Lane: lane, Key: int(must(get, "key")), ID: must(get, "id"), T0: t0, T1: t0 + must(get, "d"),
				Out: int(must(get, "out")), Fence: must(get, "fence"), Err: int(must(get, "err"))}
			a.Valid, a.HasValid = get("valid")
			out = append(out, a)
		})
		return out
	}
	tl.Acquires, tl.Extends, tl.Releases = attempts(raw.Acquire), attempts(raw.Extend), attempts(raw.Release)
	tl.Leases = []lease{}
	each(raw.Lease, func(lane int, t0 int64, get func(string) (int64, bool)) {
		l := lease{Lane: lane, Key: int(must(get, "key")), ID: must(get, "id"), T0: t0, T1: t0 + must(get, "d"),
			EndBy: int(must(get, "end")), Fence: must(get, "fence"), Extends: int(must(get, "ext"))}
		if vu, ok := get("vu"); ok {
			l.ValidUntil, l.HasValid = t0+vu, true
		}
		if r, ok := get("rel"); ok {
			l.Release, l.HasRelease = t0+r, true
		}
		tl.Leases = append(tl.Leases, l)
	})
	tl.CS = []section{}
	each(raw.CS, func(lane int, t0 int64, get func(string) (int64, bool)) {
		s := section{Lane: lane, Key: int(must(get, "key")), ID: must(get, "id"), T0: t0, T1: t0 + must(get, "d"),
			Out: int(must(get, "out")), Reason: int(must(get, "why")), Fence: must(get, "fence")}
		s.Read, s.HasRead = get("read")
		s.Wrote, s.HasWrote = get("wrote")
		s.ValidRead, s.HasValidRead = get("vr")
		s.ValidWrite, s.HasValidWrite = get("vw")
		tl.CS = append(tl.CS, s)
	})
	decodeNodeLanes(t, blob, tl)
	return tl
}

// eachItem calls f for every item of a columnar kind with its lane (or row, for the node lanes), absolute start and
// an accessor of its fields.
func eachItem(t testing.TB, lanes int, c map[string][]*int64, f func(lane int, t0 int64, get func(string) (int64, bool))) {
	t.Helper()
	off := c["off"]
	if len(off) != lanes+1 {
		t.Fatalf("off has %d entries for %d lanes", len(off), lanes)
	}
	var t0 int64
	lane := 0
	for i := range c["t0"] {
		for lane+1 < len(off) && int64(i) >= *off[lane+1] {
			lane++
		}
		t0 += *c["t0"][i]
		f(lane, t0, func(name string) (int64, bool) {
			col, ok := c[name]
			if !ok || len(col) != len(c["t0"]) {
				t.Fatalf("column %q missing or of the wrong length", name)
			}
			if col[i] == nil {
				return 0, false
			}
			return *col[i], true
		})
	}
}

func must(get func(string) (int64, bool), name string) int64 { v, _ := get(name); return v }

// decodeNodeLanes reads the node lanes back from the blob into tl, as the page's script does; a blob without a
// node record leaves tl as it is.
func decodeNodeLanes(t testing.TB, blob string, tl *timeline) {
	t.Helper()
	var raw struct {
		NodeRecord bool                `json:"node_record"`
		Nodes      []string            `json:"nodes"`
		NodeKeys   []string            `json:"node_keys"`
		Who        []string            `json:"who"`
		NodeEvents []nodeEvent         `json:"node_events"`
		NodeDown   []nodeDown          `json:"node_down"`
		Hold       map[string][]*int64 `json:"hold"`
		Renew      map[string][]*int64 `json:"renew"`
	}
	if err := json.Unmarshal([]byte(blob), &raw); err != nil {
		t.Fatalf("blob is not JSON: %v", err)
	}
	if !raw.NodeRecord {
		return
	}
	tl.NodeRecord, tl.Nodes, tl.NodeKeys, tl.Who, tl.NodeEvents, tl.NodeDown = true, raw.Nodes, raw.NodeKeys, raw.Who, raw.NodeEvents, raw.NodeDown
	rows := len(raw.Nodes) * len(raw.NodeKeys)
	tl.Holds = make([]hold, 0, len(raw.Hold["t0"]))
	eachItem(t, rows, raw.Hold, func(row int, t0 int64, get func(string) (int64, bool)) {
		tl.Holds = append(tl.Holds, hold{Row: row, Owner: int(must(get, "owner")), T0: t0, T1: t0 + must(get, "d"),
			End: int(must(get, "end")), By: int(must(get, "by"))})
	})
	eachItem(t, rows, raw.Renew, func(row int, t0 int64, get func(string) (int64, bool)) {
		tl.Renewals = append(tl.Renewals, renewal{Row: row, T: t0, By: int(must(get, "by")), Hold: int(must(get, "hold"))})
	})
}

// TestBlobRoundTrip: the data the page embeds is exactly the timeline the golden test pins.
func TestBlobRoundTrip(t *testing.T) {
	in := smallInput(t)
	want := buildTimeline(in.History, in.Violations)
	got := decodeBlob(t, embeddedBlob(t, render(t, in)))
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("embedded timeline differs from the built one:\n got %s\nwant %s", gj, wj)
	}
}

// TestBlobRoundTripSynthetic does the same on a generated run, which has thousands of items on many lanes.
func TestBlobRoundTripSynthetic(t *testing.T) {
	h, viols := synthRun{Groups: 3, Workers: 4, Ops: 5000, Violations: true, Seed: 3}.Generate()
	in := Input{History: h, Violations: viols, Verdict: "invalid"}
	want := buildTimeline(h, viols)
	got := decodeBlob(t, embeddedBlob(t, render(t, in)))
	if !reflect.DeepEqual(got, want) {
		t.Fatal("embedded timeline differs from the built one")
	}
	for _, m := range want.Marks {
		for _, p := range m.Parts {
			if p.CS < 0 {
				t.Errorf("V%d: %s's section not found", m.N, p.Worker)
			}
		}
	}
}

// TestHostileStringsCannotCloseTheScript: names and error texts are data; none of them can end the script
// element that holds the blob or inject markup into the summary.
func TestHostileStringsCannotCloseTheScript(t *testing.T) {
	evil := `</script><script>alert(1)</script><!--`
	h := &history.History{Header: history.Header{Scenario: evil, Strategy: "s"}, Events: []history.Event{
		{T: 1, Ev: history.EvInvoke, ID: 1, Op: history.OpAcquire, Worker: "g1w1" + evil, Key: evil},
		{T: 2, Ev: history.EvFail, ID: 1, Op: history.OpAcquire, Error: evil},
		{T: 3, Ev: history.EvFault, Name: evil, Phase: history.PhaseInject, Targets: []string{evil}},
	}}
	page := render(t, Input{History: h, Verdict: evil, Summary: evil, Notes: []string{evil},
		Violations: []Violation{{Key: evil, Cause: evil, Explanation: evil, A: Interval{Worker: evil}}},
		Tables:     []Table{{Title: evil, Header: []string{evil}, Rows: [][]string{{evil}}}}})
	if n := strings.Count(page, "<script"); n != 3 {
		t.Errorf("%d script elements, want 3 (error catcher, blob, timeline)", n)
	}
	if strings.Contains(page, "alert(1)</script>") {
		t.Error("a string from the history closed a script element")
	}
	tl := decodeBlob(t, embeddedBlob(t, page))
	if tl.Lanes[0] != "g1w1"+evil || tl.Texts[0] != evil {
		t.Errorf("strings did not survive the blob: %q %q", tl.Lanes, tl.Texts)
	}
}
