package checker

import (
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// withSegments runs f with the given segment size, restoring the default afterwards.
func withSegments(t *testing.T, n int, f func()) {
	t.Helper()
	old := segmentTarget
	segmentTarget = n
	defer func() { segmentTarget = old }()
	f()
}

func TestRandomHistoriesThatKeptMutualExclusionAreValidHoweverTheyAreCut(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	for seed := uint64(0); seed < 150; seed++ {
		h, _ := physical(physicalConfig{Seed: seed, Sections: 200, Keys: 2, Ties: seed%2 == 0})
		for _, n := range []int{2, 16, 1 << 30} {
			withSegments(t, n, func() {
				r := Check(h, Options{MinCriticalSections: 1})
				if r.Verdict != Valid {
					t.Fatalf("seed %d, segments of %d: %s\n%s", seed, n, r.Summary(), r.Text())
				}
			})
		}
	}
}

func TestCuttingAKeyIntoSegmentsFindsWhatCheckingItWholeFinds(t *testing.T) {
	caught := 0
	for seed := uint64(0); seed < 200; seed++ {
		h, planted := physical(physicalConfig{Seed: seed, Sections: 60, Keys: 2, Ties: seed%3 == 0, OverlapProb: 0.05})
		var cut, whole RegisterResult
		withSegments(t, 2, func() { cut = CheckRegister(h, 10*time.Second) })
		withSegments(t, 1<<30, func() { whole = CheckRegister(h, 10*time.Second) })
		if cut.Porcupine != whole.Porcupine {
			t.Fatalf("seed %d: cut into %d segments %s, whole %s", seed, cut.Segments, cut.Porcupine, whole.Porcupine)
		}
		if ov := CheckOverlap(h); ov.Count > 0 && cut.Verdict != Invalid {
			t.Fatalf("seed %d: %d overlaps but the register says %s", seed, ov.Count, cut.Porcupine)
		}
		if planted > 0 && cut.Verdict == Invalid {
			caught++
		}
	}
	if caught == 0 {
		t.Fatal("no planted violation was caught: the comparison proved nothing")
	}
}

func TestAStaleReadRightAfterASegmentBoundaryIsCaught(t *testing.T) {
	s := synthetic(synthConfig{Cycles: 3000, Keys: 1, StaleEvery: 97})
	withSegments(t, 3, func() {
		r := CheckRegister(s.h, 10*time.Second)
		eq(t, "verdict", r.Verdict, Invalid)
		if r.Segments < 100 {
			t.Fatalf("only %d segments", r.Segments)
		}
		eq(t, "illegal segments", r.IllegalSegments, s.stale)
	})
}

// cs is a critical section as the workload records it.
func cs(evs *[]history.Event, id int64, worker string, read, write int64, r int64, ev string) {
	*evs = append(*evs, history.Event{T: read, Ev: history.EvInvoke, ID: id, Op: history.OpCS, Worker: worker, Key: "k"})
	switch ev {
	case history.EvOK:
		*evs = append(*evs, history.Event{T: write, Ev: ev, ID: id, Op: history.OpCS, Read: history.Int(r), Wrote: history.Int(r + 1)})
	case history.EvFail, history.EvInfo:
		*evs = append(*evs, history.Event{T: write, Ev: ev, ID: id, Op: history.OpCS, Read: history.Int(r)})
	}
}

func TestACrashedSectionsPossibleWriteCarriesIntoTheNextSegment(t *testing.T) {
	var evs []history.Event
	cs(&evs, 1, "a", 10, 20, 0, history.EvOK)
	cs(&evs, 2, "b", 30, 40, 1, history.EvOK)
	cs(&evs, 3, "c", 50, 60, 2, history.EvOK)
	cs(&evs, 4, "d", 70, 80, 3, history.EvInfo) // crashed after reading 3: wrote 4 or nothing
	cs(&evs, 5, "a", 90, 100, 4, history.EvOK)  // reads 4: the crashed section did write
	cs(&evs, 6, "b", 110, 120, 5, history.EvOK)
	cs(&evs, 7, "c", 130, 140, 6, history.EvOK)
	h := &history.History{Events: evs}
	withSegments(t, 2, func() {
		r := CheckRegister(h, time.Second)
		eq(t, "verdict", r.Verdict, Valid)
		if r.Segments < 3 {
			t.Fatalf("%d segments: the boundary case was not exercised", r.Segments)
		}
		// Carrying the possible write must not blind the check: the last section now reads a stale 5.
		evs[len(evs)-1].Read, evs[len(evs)-1].Wrote = history.Int(5), history.Int(6)
		r = CheckRegister(h, time.Second)
		eq(t, "stale after the carried write", r.Verdict, Invalid)
	})
}

func TestAPossibleWriteThatCanNoLongerFireIsNotCarriedForever(t *testing.T) {
	var evs []history.Event
	cs(&evs, 1, "a", 10, 20, 0, history.EvOK)
	cs(&evs, 2, "b", 30, 40, 1, history.EvInfo) // did not write
	var id int64 = 3
	for v := int64(1); v < 20; v++ {
		cs(&evs, id, "a", 40+20*v, 50+20*v, v, history.EvOK)
		id++
	}
	ix := buildIndex(&history.History{Events: evs})
	withSegments(t, 2, func() {
		parts, _ := buildSegments(ix, map[string]int{})
		carried := 0
		for _, p := range parts {
			for _, o := range p {
				if o.Input.(*regOp).carried {
					carried++
				}
			}
		}
		if len(parts) < 5 || carried > 2 {
			t.Fatalf("%d segments, %d carried copies: the dead possible write was carried on", len(parts), carried)
		}
	})
}

func TestAnUnfinishedSectionWithoutAReadValueMayHaveIncremented(t *testing.T) {
	var evs []history.Event
	cs(&evs, 1, "a", 10, 20, 0, history.EvOK)
	cs(&evs, 2, "b", 30, 0, 0, "") // no completion at all: read value unknown
	cs(&evs, 3, "c", 50, 60, 2, history.EvOK)
	r := CheckRegister(&history.History{Events: evs}, time.Second)
	eq(t, "verdict", r.Verdict, Valid)
	eq(t, "indeterminate", r.Indeterminate, 1)
}

func TestStepsOfTheCounterModel(t *testing.T) {
	tests := []struct {
		name  string
		state int64
		op    regOp
		ok    bool
		next  int64
	}{
		{"a write that read the current value moves it on", 5, regOp{kind: regRMW, read: 5, wrote: 6}, true, 6},
		{"a write that read another value is illegal", 6, regOp{kind: regRMW, read: 5, wrote: 6}, false, 6},
		{"a read of the current value changes nothing", 5, regOp{kind: regRead, read: 5}, true, 5},
		{"a read of another value is illegal", 5, regOp{kind: regRead, read: 4}, false, 5},
		{"a possible write fires on its read value", 5, regOp{kind: regMaybeWrite, read: 5, wrote: 6}, true, 6},
		{"a possible write is a no-op elsewhere", 7, regOp{kind: regMaybeWrite, read: 5, wrote: 6}, true, 7},
		{"a segment start sets the value", 7, regOp{kind: regStart, wrote: 3}, true, 3},
		{"an unknown value takes the first read", unknownValue, regOp{kind: regRead, read: 9}, true, 9},
		{"an unknown value takes the first write", unknownValue, regOp{kind: regRMW, read: 9, wrote: 10}, true, 10},
	}
	for _, tc := range tests {
		ok, next := regStep(tc.state, &tc.op, nil)
		if ok != tc.ok || (ok && next.(int64) != tc.next) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, ok, next, tc.ok, tc.next)
		}
	}
}

func TestAKeyIsNotCutWhereTheCountersValueIsNotForced(t *testing.T) {
	var evs []history.Event
	for v := int64(0); v < 5; v++ {
		cs(&evs, v+1, "a", 10+20*v, 20+20*v, v, history.EvOK)
	}
	// Two writers whose intervals nest: b (called last) must be placed before c, so the value after both is
	// c's 7, not b's 6. A cut after b that took the last-called writer's value would judge d wrongly.
	cs(&evs, 10, "c", 200, 300, 6, history.EvOK)
	cs(&evs, 11, "b", 210, 250, 5, history.EvOK)
	cs(&evs, 12, "d", 400, 410, 7, history.EvOK)
	cs(&evs, 13, "a", 420, 430, 8, history.EvOK)
	withSegments(t, 2, func() {
		r := CheckRegister(&history.History{Events: evs}, time.Second)
		eq(t, "verdict", r.Verdict, Valid)
	})
}
