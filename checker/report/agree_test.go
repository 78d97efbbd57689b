package report

import (
	"cmp"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/history"
)

// The page and the verdict must tell one story. These tests judge a history with the checker, fill the Input from
// the checker's result as the harness does, and compare what the page draws with what the checker judged.

// judged checks a history and fills an Input from the result as harness.ReportInput does, as far as the page's
// timeline and facts go.
func judged(t *testing.T, path string) (*history.History, checker.Result, Input) {
	t.Helper()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := checker.Check(h, checker.Options{Timeout: 10 * time.Second})
	in := Input{History: h, Ops: r.Ops, Verdict: string(r.Verdict), Summary: r.Summary(), Notes: r.Notes}
	for _, o := range r.Overlap.Overlaps {
		in.Violations = append(in.Violations, Violation{Key: o.Key, A: intervalOf(o.First), B: intervalOf(o.Second), Cause: string(o.Cause)})
	}
	return h, r, in
}

func intervalOf(c checker.CriticalSection) Interval {
	return Interval{ID: c.ID, Worker: c.Worker, ReadT: int64(c.ReadAt), WriteT: int64(c.WroteAt), Read: c.Read, Wrote: c.Wrote, Fence: c.Fence}
}

// drawn is an operation as the page or the checker places it on a worker's lane.
type drawn struct {
	Name, Worker string
	ID, T0, T1   int64
	Out          int
}

func compareDrawn(a, b drawn) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID), cmp.Compare(a.T0, b.T0), cmp.Compare(a.Worker, b.Worker))
}

// drawnByPage lists what the timeline draws, sorted.
func drawnByPage(tl *timeline) []drawn {
	var out []drawn
	for name, list := range map[string][]attempt{history.OpAcquire: tl.Acquires, history.OpExtend: tl.Extends, history.OpRelease: tl.Releases} {
		for _, a := range list {
			out = append(out, drawn{name, tl.Lanes[a.Lane], a.ID, a.T0, a.T1, a.Out})
		}
	}
	for _, s := range tl.CS {
		out = append(out, drawn{history.OpCS, tl.Lanes[s.Lane], s.ID, s.T0, s.T1, s.Out})
	}
	slices.SortFunc(out, compareDrawn)
	return out
}

// drawableByChecker lists the checker's operations that the page can draw (those of a known kind naming a
// worker), placed as the page places them: a pending one lasts to the end of the run. Sorted.
func drawableByChecker(ops []history.Op, end int64) []drawn {
	var out []drawn
	for _, o := range ops {
		switch o.Name {
		case history.OpAcquire, history.OpExtend, history.OpRelease, history.OpCS:
		default:
			continue
		}
		if o.Worker == "" {
			continue
		}
		t1 := o.End
		if o.Outcome == history.OutPending {
			t1 = max(end, o.Start)
		}
		out = append(out, drawn{o.Name, o.Worker, o.ID, o.Start, t1, outCode(o.Outcome)})
	}
	slices.SortFunc(out, compareDrawn)
	return out
}

func TestThePageDrawsTheOperationsTheVerdictWasReachedOn(t *testing.T) {
	paths, err := filepath.Glob("../testdata/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	paths = append([]string{"testdata/pairing-edges.jsonl", "testdata/small.jsonl"}, paths...)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			h, r, in := judged(t, path)
			tl := drawTimeline(h, in.Ops, in.Violations)
			if got, want := drawnByPage(tl), drawableByChecker(r.Ops, tl.End); !reflect.DeepEqual(got, want) {
				t.Errorf("the page draws\n%+v\nthe checker judged\n%+v", got, want)
			}
			for i, m := range tl.Marks {
				o := r.Overlap.Overlaps[i]
				for j, c := range []checker.CriticalSection{o.First, o.Second} {
					p := m.Parts[j]
					if p.CS < 0 || tl.CS[p.CS].T0 != int64(c.ReadAt) || tl.CS[p.CS].T1 != int64(c.WroteAt) {
						t.Errorf("V%d: the page draws %s's section as %+v; the verdict has it read at %v, write at %v", m.N, c.Worker, p, c.ReadAt, c.WroteAt)
					}
				}
			}
			if own := buildTimeline(h, in.Violations); !reflect.DeepEqual(own, tl) {
				t.Error("the page pairing the history itself draws something else than the checker's operations")
			}
			page := render(t, in)
			if fact := plural(r.CriticalSections, "critical section") + " written"; !strings.Contains(page, fact) {
				t.Errorf("the page does not state %q, the verdict's count", fact)
			}
		})
	}
}

// TestTheEdgeCasesOfPairingAreDrawnAsTheCheckerJudgedThem goes through testdata/pairing-edges.jsonl one edge case
// at a time: for each operation, what the checker paired and what the page draws.
func TestTheEdgeCasesOfPairingAreDrawnAsTheCheckerJudgedThem(t *testing.T) {
	h, r, in := judged(t, "testdata/pairing-edges.jsonl")
	tl := drawTimeline(h, in.Ops, in.Violations)
	page, judgedOps := drawnByPage(tl), drawableByChecker(r.Ops, tl.End)
	cases := []struct {
		name string
		op   string
		id   int64
		want []drawn
	}{
		{"a section invoked twice is drawn once, from the earlier invocation", history.OpCS, 2,
			[]drawn{{history.OpCS, "w1", 2, 20 * ms, 40 * ms, outOK}}},
		{"a release completed twice is drawn with its first completion", history.OpRelease, 6,
			[]drawn{{history.OpRelease, "w2", 6, 36 * ms, 37 * ms, outOK}}},
		{"an orphan section is drawn where it completed", history.OpCS, 90,
			[]drawn{{history.OpCS, "w3", 90, 60 * ms, 60 * ms, outOK}}},
		{"an id completed twice and never invoked is drawn as two orphans", history.OpAcquire, 92,
			[]drawn{{history.OpAcquire, "w3", 92, 70 * ms, 70 * ms, outInfo}, {history.OpAcquire, "w3", 92, 71 * ms, 71 * ms, outFail}}},
		{"an orphan naming no worker is not drawn", history.OpRelease, 91, nil},
		{"an acquire completed before it was invoked is drawn as a point", history.OpAcquire, 7,
			[]drawn{{history.OpAcquire, "w3", 7, 80 * ms, 80 * ms, outOK}}},
		{"a completion before its invocation in the file still completes it", history.OpCS, 8,
			[]drawn{{history.OpCS, "w3", 8, 82 * ms, 85 * ms, outOK}}},
		{"a section never completed is drawn to the end of the run", history.OpCS, 9,
			[]drawn{{history.OpCS, "w1", 9, 90 * ms, 100 * ms, outPending}}},
		{"an extend whose worker only its completion names is drawn on that worker's lane", history.OpExtend, 10,
			[]drawn{{history.OpExtend, "w1", 10, 14 * ms, 15 * ms, outOK}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			of := func(list []drawn) []drawn {
				var out []drawn
				for _, d := range list {
					if d.Name == c.op && d.ID == c.id {
						out = append(out, d)
					}
				}
				return out
			}
			if got := of(page); !reflect.DeepEqual(got, c.want) {
				t.Errorf("the page draws %+v, want %+v", got, c.want)
			}
			if got := of(judgedOps); !reflect.DeepEqual(got, c.want) {
				t.Errorf("the checker judged %+v, want %+v", got, c.want)
			}
		})
	}

	if r.Overlap.Count != 1 || r.Overlap.Overlaps[0].First.ID != 2 || r.Overlap.Overlaps[0].First.ReadAt != 20*time.Millisecond {
		t.Errorf("overlaps %+v: want w1's section 2, read at its earlier invocation, overlapping w2's", r.Overlap.Overlaps)
	}
	if r.CriticalSections != 4 {
		t.Errorf("%d critical sections written, want 4 (the orphan among them)", r.CriticalSections)
	}
	for _, note := range []string{"2 events repeated an id already used, ignored", "4 completions without an invocation"} {
		if !slices.Contains(r.Notes, note) {
			t.Errorf("checker notes %q: want %q", r.Notes, note)
		}
	}
	for _, note := range []string{"4 completions without an invocation (drawn where it completed)", "1 operation naming no worker (not drawn)"} {
		if !slices.Contains(tl.Notes, note) {
			t.Errorf("page notes %q: want %q", tl.Notes, note)
		}
	}
}
