package report

import (
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestTimelineGolden pins everything the page draws for the hand-written history: lanes, items, leases, fault
// windows and the located violation. Regenerate with -update after a deliberate change, and read the diff.
func TestTimelineGolden(t *testing.T) {
	tl := buildTimeline(loadSmall(t), smallViolations())
	got, err := json.MarshalIndent(tl, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/small.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("timeline differs from %s (run with -update to see the diff in git):\n%s", golden, got)
	}
}

// The facts the golden file holds, stated one by one so that a wrong golden file cannot hide them.

func TestLanesInNaturalOrder(t *testing.T) {
	tl := buildTimeline(loadSmall(t), nil)
	want := []string{"g1w1", "g1w2", "g1w10", "g2w1"}
	if !slices.Equal(tl.Lanes, want) {
		t.Fatalf("lanes %v, want %v", tl.Lanes, want)
	}
	if got := laneOrder([]string{"g2w1", "g10w1", "g1w10", "g1w9", "g1w1", "x", "g1w9"}); !slices.Equal(got, []string{"g1w1", "g1w9", "g1w10", "g2w1", "g10w1", "x"}) {
		t.Fatalf("laneOrder = %v", got)
	}
}

func lane(tl *timeline, w string) int { return slices.Index(tl.Lanes, w) }

func TestLeases(t *testing.T) {
	tl := buildTimeline(loadSmall(t), nil)
	find := func(id int64) lease {
		t.Helper()
		for _, l := range tl.Leases {
			if l.ID == id {
				return l
			}
		}
		t.Fatalf("no lease from acquire %d", id)
		return lease{}
	}
	cases := []struct {
		name       string
		id         int64
		worker     string
		t0, t1     int64
		validUntil int64
		endBy      int
		release    int64
		extends    int
	}{
		// Extended at 22 ms to 122 ms, released at 34 ms: the bar ends at the release.
		{"released", 1, "g1w1", 12 * ms, 34 * ms, 122 * ms, endReleased, 34 * ms, 1},
		// Valid until 92 ms, released only at 101 ms: the bar ends at ValidUntil, the release is remembered.
		{"ran out before release", 7, "g1w2", 42 * ms, 92 * ms, 92 * ms, endExpired, 101 * ms, 0},
		// The stalled holder never released: the lease ends at its ValidUntil.
		{"stalled holder", 10, "g1w10", 105 * ms, 135 * ms, 135 * ms, endExpired, 0, 0},
		// Acquired again at 161 ms with no release between.
		{"superseded", 20, "g1w2", 152 * ms, 161 * ms, 252 * ms, endSuperseded, 0, 0},
		// Still valid when the history ends at 190 ms.
		{"open at the end", 21, "g1w2", 161 * ms, 261 * ms, 261 * ms, endOpen, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := find(c.id)
			if l.Lane != lane(tl, c.worker) || l.T0 != c.t0 || l.T1 != c.t1 || !l.HasValid || l.ValidUntil != c.validUntil ||
				l.EndBy != c.endBy || l.Release != c.release || l.Extends != c.extends {
				t.Fatalf("lease %+v, want %+v", l, c)
			}
		})
	}
	if len(tl.Leases) != 7 {
		t.Fatalf("%d leases, want 7 (one per acquire ok)", len(tl.Leases))
	}
}

func TestSectionsAndAttempts(t *testing.T) {
	tl := buildTimeline(loadSmall(t), nil)
	byID := map[int64]section{}
	for _, s := range tl.CS {
		byID[s.ID] = s
	}
	reason := func(s section) string { return tl.Texts[s.Reason] }
	if s := byID[11]; s.Out != outOK || s.T0 != 106*ms || s.T1 != 180*ms || s.ValidWrite != -45*ms || !s.HasValidWrite || s.Wrote != 2 {
		t.Errorf("late write %+v", s)
	}
	if s := byID[8]; s.Out != outFail || reason(s) != "lease-expired" || s.HasWrote {
		t.Errorf("abandoned section %+v", s)
	}
	if s := byID[16]; s.Out != outFail || reason(s) != "fenced" || s.Lane != lane(tl, "g1w1") || tl.Keys[s.Key] != "k1" {
		t.Errorf("fenced section %+v", s)
	}
	if s := byID[17]; s.Out != outPending || s.T1 != 190*ms {
		t.Errorf("section without completion %+v: want pending to the end of the run", s)
	}
	outs := map[int64]int{}
	for _, a := range tl.Acquires {
		outs[a.ID] = a.Out
	}
	if outs[1] != outOK || outs[5] != outFail || outs[6] != outInfo {
		t.Errorf("acquire outcomes %v", outs)
	}
	if len(tl.Extends) != 2 || len(tl.Releases) != 3 {
		t.Errorf("%d extends, %d releases; want 2 and 3 (the release without invocation or worker is not drawn)", len(tl.Extends), len(tl.Releases))
	}
	if len(tl.Notes) != 2 {
		t.Errorf("notes %q: want the orphan completion and the missing worker noted", tl.Notes)
	}
}

func TestFaultWindows(t *testing.T) {
	tl := buildTimeline(loadSmall(t), nil)
	want := []fault{
		{Name: "partition", Targets: []string{"g2->n1", "g2->n2", "g2->n3"}, From: 40 * ms, To: 140 * ms, Healed: true, Row: 0},
		{Name: "client-stall", Targets: []string{"g1w10"}, From: 110 * ms, To: 190 * ms, Healed: false, Row: 1},
	}
	if len(tl.Faults) != len(want) {
		t.Fatalf("faults %+v", tl.Faults)
	}
	for i := range want {
		f := tl.Faults[i]
		if f.Name != want[i].Name || !slices.Equal(f.Targets, want[i].Targets) || f.From != want[i].From || f.To != want[i].To ||
			f.Healed != want[i].Healed || f.Row != want[i].Row {
			t.Errorf("fault %d = %+v, want %+v", i, f, want[i])
		}
	}
}

func TestMarksLocateThePair(t *testing.T) {
	tl := buildTimeline(loadSmall(t), smallViolations())
	if len(tl.Marks) != 1 {
		t.Fatalf("marks %+v", tl.Marks)
	}
	m := tl.Marks[0]
	if m.N != 1 || m.From != 143*ms || m.To != 160*ms || len(m.Parts) != 2 {
		t.Fatalf("mark %+v: want V1 overlapping 143–160 ms", m)
	}
	for i, id := range []int64{11, 13} {
		p := m.Parts[i]
		if p.CS < 0 || tl.CS[p.CS].ID != id || p.Lane != tl.CS[p.CS].Lane {
			t.Errorf("part %d = %+v: want section %d", i, p, id)
		}
	}
	// A worker the history does not know is kept, without a lane.
	tl = buildTimeline(loadSmall(t), []Violation{{Key: "k0", A: Interval{Worker: "g9w9", ReadT: 1, WriteT: 2}}})
	if p := tl.Marks[0].Parts; len(p) != 1 || p[0].Lane != -1 || p[0].CS != -1 {
		t.Errorf("unknown worker: parts %+v", p)
	}
}

func TestEmptyHistory(t *testing.T) {
	for _, in := range []Input{{}, {History: loadSmall(t)}, {Violations: smallViolations()}} {
		page := render(t, in)
		if len(page) == 0 {
			t.Fatal("empty page")
		}
	}
}
