package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/history"
)

// smallNodeRecord is what the three lock servers saw during small.jsonl (testdata/small.nodes.jsonl, as the
// checker replays it): g1w10's hold of k0 deleted on n1 by g1w2 at 120 ms and expired on n2 and n3 at 134.5 ms,
// before g2w1 took k0 at 141 ms; g1w1 renewing g2w1's hold on n2; n3 killed and restarted empty; a replica
// promoted in n2's place; g1w2's last hold on n1 overwritten by g1w1.
func smallNodeRecord() *NodeRecord {
	m := func(f float64) int64 { return int64(f * float64(ms)) }
	rec := &NodeRecord{}
	for _, n := range []string{"n1", "n2", "n3"} {
		rec.Tenures = append(rec.Tenures,
			Tenure{Node: n, Key: "k0", Owner: "g1w1", From: m(11), To: m(34.5), End: "deleted", By: "g1w1"},
			Tenure{Node: n, Key: "k0", Owner: "g1w2", From: m(41), To: m(91), End: "expired"})
		g2w1 := Tenure{Node: n, Key: "k0", Owner: "g2w1", From: m(141), To: m(161.5), End: "deleted", By: "g2w1"}
		switch n {
		case "n1":
			rec.Tenures = append(rec.Tenures, Tenure{Node: n, Key: "k0", Owner: "g1w10", From: m(104.5), To: m(120), End: "deleted", By: "g1w2"}, g2w1,
				Tenure{Node: n, Key: "k0", Owner: "g1w2", From: m(162), To: m(176), End: "overwritten", By: "g1w1"},
				Tenure{Node: n, Key: "k0", Owner: "g1w1", From: m(176)},
				Tenure{Node: n, Key: "k1", Owner: "g1w1", From: m(150.5)})
		case "n2":
			g2w1.Foreign = []Renewal{{At: m(150), By: "g1w1"}}
			rec.Tenures = append(rec.Tenures, Tenure{Node: n, Key: "k0", Owner: "g1w10", From: m(104.5), To: m(134.5), End: "expired"}, g2w1,
				Tenure{Node: n, Key: "k1", Owner: "g1w1", From: m(150.5), To: m(185), End: "moved"})
		case "n3":
			rec.Tenures = append(rec.Tenures, Tenure{Node: n, Key: "k0", Owner: "g1w10", From: m(104.5), To: m(134.5), End: "expired"}, g2w1,
				Tenure{Node: n, Key: "k1", Owner: "g1w1", From: m(150.5), To: m(170), End: "restart"})
		}
		rec.Events = append(rec.Events, history.NodeEvent{T: 0, Node: n, Ev: history.NodeUp, Note: "redis 7 ready"},
			// Commands are not lifecycle: the page draws them through the holds.
			history.NodeEvent{T: m(11), Node: n, Ev: history.NodeCmd, Client: "g1w1", Cmd: "SET", Key: "k0"})
	}
	rec.Events = append(rec.Events,
		history.NodeEvent{T: m(100), Node: "n1", Ev: history.NodeNote, Note: "wall clock set to real time + 2s"},
		history.NodeEvent{T: m(165), Node: "n3", Ev: history.NodeDown, Note: "killed (SIGKILL)"},
		history.NodeEvent{T: m(170), Node: "n3", Ev: history.NodeRestart, Note: "restarted: a new process holding 0 keys"},
		history.NodeEvent{T: m(185), Node: "n2", Ev: history.NodeMoved, Note: "replica promoted in n2's place"})
	return rec
}

// smallNodeInput is the small run with its node record and the violation as the checker explains it from the
// record: g1w2's DEL on n1, on the three nodes both holders held k0 on.
func smallNodeInput(t testing.TB) Input {
	in := smallInput(t)
	in.Nodes = smallNodeRecord()
	v := &in.Violations[0]
	v.Cause, v.BeliefCause, v.Nodes = "foreign-delete", "lease-outlived", []string{"n1", "n2", "n3"}
	v.Story = "g1w10 held k0 on n1,n2,n3 and g2w1 took it on n1,n2,n3: g1w2's DEL at 0.12s on n1 removed g1w10's lock; " +
		"g2w1 took it at 0.14s while g1w10 was still inside its section"
	return in
}

// nodeTimeline is the timeline the page embeds for in, read back from the page.
func nodeTimeline(t *testing.T, in Input) *timeline {
	t.Helper()
	return decodeBlob(t, embeddedBlob(t, render(t, in)))
}

// holdAt finds the hold of key on node that began at from, as the page carries it.
func holdAt(t *testing.T, tl *timeline, node, key string, from int64) (int, hold) {
	t.Helper()
	row := slices.Index(tl.Nodes, node)*len(tl.NodeKeys) + slices.Index(tl.NodeKeys, key)
	for i, h := range tl.Holds {
		if h.Row == row && h.T0 == from {
			return i, h
		}
	}
	t.Fatalf("no hold of %s on %s from %s", key, node, fmtSeconds(from))
	return -1, hold{}
}

func name(list []string, i int) string {
	if i < 0 {
		return ""
	}
	return list[i]
}

func TestEachNodeGetsALaneWithARowPerKeyAndEveryHoldEndsAsTheNodeSawIt(t *testing.T) {
	tl := nodeTimeline(t, smallNodeInput(t))
	if !tl.NodeRecord || !slices.Equal(tl.Nodes, []string{"n1", "n2", "n3"}) || !slices.Equal(tl.NodeKeys, []string{"k0", "k1"}) {
		t.Fatalf("node record %v, lanes %v, rows %v: want n1..n3 with a row each for k0 and k1", tl.NodeRecord, tl.Nodes, tl.NodeKeys)
	}
	if len(tl.Holds) != 17 {
		t.Errorf("%d holds, want the record's 17", len(tl.Holds))
	}
	tests := []struct {
		name           string
		node, key      string
		from, to       int64
		owner, end, by string
	}{
		{"a release is a delete by the holder itself", "n2", "k0", 11 * ms, 34*ms + ms/2, "g1w1", "deleted", "g1w1"},
		{"a lease nobody renewed expires", "n3", "k0", 41 * ms, 91 * ms, "g1w2", "expired", ""},
		{"another client's DEL ends the hold early", "n1", "k0", 104*ms + ms/2, 120 * ms, "g1w10", "deleted", "g1w2"},
		{"a SET without NX overwrites the holder", "n1", "k0", 162 * ms, 176 * ms, "g1w2", "overwritten", "g1w1"},
		{"a node that restarts empty forgets the hold", "n3", "k1", 150*ms + ms/2, 170 * ms, "g1w1", "restart", ""},
		{"a promoted replica without the key ends the hold", "n2", "k1", 150*ms + ms/2, 185 * ms, "g1w1", "moved", ""},
		{"a hold the record never ends lasts to the end of the run", "n1", "k1", 150*ms + ms/2, 190 * ms, "g1w1", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, h := holdAt(t, tl, tc.node, tc.key, tc.from)
			if got := []string{name(tl.Who, h.Owner), name(tl.Texts, h.End), name(tl.Who, h.By)}; h.T1 != tc.to ||
				!slices.Equal(got, []string{tc.owner, tc.end, tc.by}) {
				t.Fatalf("hold to %s, owner/end/by %q; want to %s, %q", fmtSeconds(h.T1), got, fmtSeconds(tc.to), []string{tc.owner, tc.end, tc.by})
			}
		})
	}
}

func TestARenewalByAnotherClientIsATickOnTheHoldItExtended(t *testing.T) {
	tl := nodeTimeline(t, smallNodeInput(t))
	i, _ := holdAt(t, tl, "n2", "k0", 141*ms)
	want := []renewal{{Row: 2, T: 150 * ms, By: slices.Index(tl.Who, "g1w1"), Hold: i}}
	if !reflect.DeepEqual(tl.Renewals, want) {
		t.Fatalf("renewals %+v, want g1w1's on g2w1's hold of k0 on n2: %+v", tl.Renewals, want)
	}
}

func TestTheNodesLifecycleIsKeptAndADownNodeIsDownUntilItComesBack(t *testing.T) {
	tl := nodeTimeline(t, smallNodeInput(t))
	var kinds []string
	for _, e := range tl.NodeEvents {
		kinds = append(kinds, tl.Nodes[e.Node]+" "+e.Kind)
	}
	want := []string{"n1 up", "n1 note", "n2 up", "n2 moved", "n3 up", "n3 down", "n3 restart"}
	if !slices.Equal(kinds, want) {
		t.Errorf("lifecycle %q, want %q (commands left out, by node then time)", kinds, want)
	}
	if d := tl.NodeDown; len(d) != 1 || d[0] != (nodeDown{Node: 2, From: 165 * ms, To: 170 * ms, Healed: true}) {
		t.Errorf("down stretches %+v, want n3 from its kill to its restart", d)
	}
}

func TestTheViolatingPairsHoldsAreHighlightedOnTheStorysNodes(t *testing.T) {
	type want struct {
		node string
		from int64
		part int
		lost bool
	}
	a := []want{{"n1", 104*ms + ms/2, 0, true}, {"n1", 141 * ms, 1, false}}
	tests := []struct {
		name  string
		nodes []string
		key   string
		b     Interval
		want  []want
	}{
		{"on the node the story happens on, the first holder's hold ends in the DEL that took its lock", []string{"n1"}, "k0", smallViolations()[0].B, a},
		{"on every node named, in the nodes' order", []string{"n3", "n1"}, "k0", smallViolations()[0].B,
			append(slices.Clone(a), want{"n3", 104*ms + ms/2, 0, true}, want{"n3", 141 * ms, 1, false})},
		{"where the record missed the second holder, the first's hold that ended before the second read is how it lost the lock",
			[]string{"n1"}, "k0", Interval{Worker: "g9w9", ReadT: 143 * ms}, []want{{"n1", 104*ms + ms/2, 0, true}}},
		{"a first holder's hold still in force when the second read is no lost lock", []string{"n1"}, "k0",
			Interval{Worker: "g9w9", ReadT: 110 * ms}, []want{{"n1", 104*ms + ms/2, 0, false}}},
		{"a story on no node highlights nothing", nil, "k0", smallViolations()[0].B, nil},
		{"a node the record does not know highlights nothing", []string{"n9"}, "k0", smallViolations()[0].B, nil},
		{"a key the record does not know highlights nothing", []string{"n1"}, "k7", smallViolations()[0].B, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := smallNodeInput(t)
			in.Violations[0].Nodes, in.Violations[0].Key, in.Violations[0].B = tc.nodes, tc.key, tc.b
			tl := nodeTimeline(t, in)
			var wantHolds []markHold
			for _, w := range tc.want {
				i, _ := holdAt(t, tl, w.node, "k0", w.from)
				wantHolds = append(wantHolds, markHold{Hold: i, Part: w.part, Lost: w.lost})
			}
			if got := tl.Marks[0].Holds; !reflect.DeepEqual(got, wantHolds) {
				t.Fatalf("highlighted holds %+v, want %+v", got, wantHolds)
			}
		})
	}
}

func TestTheViolationTellsTheServersStoryAndTheCauseTheBeliefsSuggested(t *testing.T) {
	page := render(t, smallNodeInput(t))
	for _, want := range []string{
		`<span class="cause cause-foreign-delete">foreign delete</span>`, "another client removed or renewed the lock",
		`<span class="belief">(the clients&#39; beliefs alone suggested lease-outlived)</span>`,
		`<p class="story"><b>On the servers (n1, n2, n3):</b> g1w10 held k0 on n1,n2,n3 and g2w1 took it on n1,n2,n3: g1w2&#39;s DEL at 0.12s on n1 removed g1w10&#39;s lock;`,
		"node record: 3 nodes, 17 holds", `<span class="legend-nodes">node lanes:</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "no node record") || strings.Contains(page, `class="record"`) {
		t.Error("a violation with a story from the record says its cause came from beliefs")
	}
}

func TestAViolationSaysWhereItsCauseCameFrom(t *testing.T) {
	tests := []struct {
		name   string
		record bool
		belief string
		story  string
		want   string
	}{
		{"without a node record, from the clients' beliefs only", false, "", "",
			`<p class="record">no node record: causes inferred from the clients&#39; beliefs only.</p>`},
		{"with a record that does not explain the pair, from the beliefs", true, "granted-twice", "",
			`<p class="record">the node record does not show how the first holder lost the lock: cause inferred from the clients&#39; beliefs.</p>`},
		{"with a record the checker did not read, from the beliefs", true, "", "",
			`<p class="record">cause inferred from the clients&#39; beliefs only: the checker did not read the node record.</p>`},
		{"with a story, from the servers' record", true, "granted-twice", "n1 restarted",
			`<p class="story"><b>On the servers:</b> n1 restarted.</p>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := smallInput(t)
			if tc.record {
				in.Nodes = smallNodeRecord()
			}
			in.Violations[0].BeliefCause, in.Violations[0].Story = tc.belief, tc.story
			page := render(t, in)
			if !strings.Contains(page, tc.want) {
				t.Fatalf("page lacks %q", tc.want)
			}
			if fact := "<span>no node record</span>"; strings.Contains(page, fact) == tc.record {
				t.Errorf("the facts say %q: %v, want %v", fact, !tc.record, !tc.record)
			}
			if strings.Contains(embeddedBlob(t, page), `"node_record"`) != tc.record {
				t.Errorf("node lanes in the page's data: %v, want %v", !tc.record, tc.record)
			}
		})
	}
}

func TestHostileNamesOnTheNodeLanesCannotBreakThePage(t *testing.T) {
	evil := `</script><script>alert(1)</script><!--`
	in := smallNodeInput(t)
	in.Nodes.Tenures = append(in.Nodes.Tenures, Tenure{Node: "n1" + evil, Key: "k0" + evil, Owner: "g1w1" + evil, From: ms, To: 2 * ms,
		End: evil, By: evil, Foreign: []Renewal{{At: ms, By: evil}}})
	in.Nodes.Events = append(in.Nodes.Events, history.NodeEvent{T: ms, Node: evil, Ev: history.NodeNote, Note: evil})
	v := &in.Violations[0]
	v.Story, v.BeliefCause, v.Cause, v.Nodes = evil, evil, evil, []string{evil, "n1" + evil}
	page := render(t, in)
	if n := strings.Count(page, "<script"); n != 3 {
		t.Errorf("%d script elements, want 3", n)
	}
	if strings.Contains(page, "alert(1)</script>") {
		t.Error("a name from the node record closed a script element")
	}
	tl := decodeBlob(t, embeddedBlob(t, page))
	if !slices.Contains(tl.Nodes, "n1"+evil) || !slices.Contains(tl.NodeKeys, "k0"+evil) || !slices.Contains(tl.Who, "g1w1"+evil) ||
		!slices.Contains(tl.Texts, evil) || !slices.ContainsFunc(tl.NodeEvents, func(e nodeEvent) bool { return e.Note == evil }) {
		t.Errorf("hostile names did not survive as data: nodes %q keys %q who %q", tl.Nodes, tl.NodeKeys, tl.Who)
	}
}

// synthNodes is a node record for a generated run: each lease held on five nodes, from just before its grant to
// its release (a delete by the holder) or its expiry, as a run's servers would have seen it.
func synthNodes(h *history.History) *NodeRecord {
	tl := buildTimeline(h, nil)
	rec := &NodeRecord{}
	for _, l := range tl.Leases {
		for n := 1; n <= 5; n++ {
			t := Tenure{Node: fmt.Sprintf("n%d", n), Key: tl.Keys[l.Key], Owner: tl.Lanes[l.Lane], From: l.T0 - ms/2, To: l.T1, End: "expired"}
			if l.EndBy == endReleased {
				t.End, t.By = "deleted", t.Owner
			}
			rec.Tenures = append(rec.Tenures, t)
		}
	}
	rec.Events = []history.NodeEvent{{T: 30 * ms, Node: "n3", Ev: history.NodeDown, Note: "killed (SIGKILL)"},
		{T: 400 * ms, Node: "n3", Ev: history.NodeRestart, Note: "restarted: a new process holding 0 keys"}}
	return rec
}

// TestLargePageSizeWithNodeLanes: the node lanes of a 100k-operation run (five nodes, a hold per lease on each)
// keep the page well under 20 MB, because the page carries holds, a few bytes each, not the commands behind them.
func TestLargePageSizeWithNodeLanes(t *testing.T) {
	if testing.Short() {
		t.Skip("large run")
	}
	in := large100k()
	var without countingWriter
	if err := Write(&without, in); err != nil {
		t.Fatal(err)
	}
	in.Nodes = synthNodes(in.History)
	var with countingWriter
	if err := Write(&with, in); err != nil {
		t.Fatal(err)
	}
	perHold := float64(with.n-without.n) / float64(len(in.Nodes.Tenures))
	if with.n >= 20<<20 || perHold > 40 {
		t.Fatalf("page of %d bytes with %d holds (%.1f bytes a hold), want under 20 MB and 40 bytes a hold", with.n, len(in.Nodes.Tenures), perHold)
	}
	t.Logf("%d holds: %d bytes, %.1f a hold", len(in.Nodes.Tenures), with.n, perHold)
}

func TestNodeLanesRoundTripThroughThePageOnALargeRun(t *testing.T) {
	h, viols := synthRun{Groups: 2, Workers: 3, Ops: 3000, Violations: true, Seed: 9}.Generate()
	in := Input{History: h, Violations: viols, Verdict: "invalid", Nodes: synthNodes(h)}
	want := buildTimeline(h, viols)
	buildNodeLanes(want, in.Nodes, viols)
	got := decodeBlob(t, embeddedBlob(t, render(t, in)))
	if !reflect.DeepEqual(got.nodeLanes, want.nodeLanes) {
		gj, _ := json.Marshal(got.nodeLanes.NodeDown)
		t.Fatalf("embedded node lanes differ from the built ones (down %s)", gj)
	}
	if len(want.Holds) != 5*len(want.Leases) {
		t.Fatalf("%d holds for %d leases on 5 nodes", len(want.Holds), len(want.Leases))
	}
}
