package checker

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func load(t *testing.T, name string) *history.History {
	t.Helper()
	h, err := history.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHistories(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		want  Verdict
		check func(t *testing.T, r Result)
	}{
		{
			name: "a history of sequential critical sections by several workers is valid",
			file: "valid.jsonl",
			want: Valid,
			check: func(t *testing.T, r Result) {
				eq(t, "written", r.CriticalSections, 27)
				eq(t, "overlap count", r.Overlap.Count, 0)
				eq(t, "porcupine", r.Register.Porcupine, "Ok")
				eq(t, "keys", r.Register.Keys, 2)
				a := r.Liveness.All.Acquires
				eq(t, "acquires", a, AcquireCounts{Tried: 30, Granted: 28, Refused: 1, Indeterminate: 1})
				eq(t, "abandoned", r.Liveness.All.CS.Abandoned, 1)
				eq(t, "p50", r.Liveness.All.AcquireP50, 2*time.Millisecond)
				eq(t, "faults", len(r.Faults), 1)
				eq(t, "healed", r.Faults[0].Healed, true)
				if r.Liveness.InFaults.CS.Written == 0 || r.Liveness.OutsideFaults.CS.Written == 0 {
					t.Errorf("written sections not split around the fault: %+v", r.Liveness)
				}
				eq(t, "split adds up", r.Liveness.InFaults.CS.Written+r.Liveness.OutsideFaults.CS.Written, 27)
			},
		},
		{
			name: "a history where two holders overlap while both believe their leases valid is invalid: granted twice",
			file: "overlap-granted-twice.jsonl",
			want: Invalid,
			check: func(t *testing.T, r Result) {
				eq(t, "overlap count", r.Overlap.Count, 1)
				o := r.Overlap.Overlaps[0]
				eq(t, "first", o.First.Worker, "g1w1")
				eq(t, "second", o.Second.Worker, "g2w1")
				eq(t, "key", o.Key, "k0")
				eq(t, "reads", [2]int64{o.First.Read, o.Second.Read}, [2]int64{10, 10})
				eq(t, "writes", [2]int64{o.First.Wrote, o.Second.Wrote}, [2]int64{11, 11})
				eq(t, "cause", o.Cause, CauseGrantedTwice)
				eq(t, "both valid", o.BothValid, true)
				eq(t, "faults", o.Faults, []string{"partition"})
				eq(t, "from", o.From, 608*time.Millisecond)
				eq(t, "to", o.To, 623*time.Millisecond)
				eq(t, "register", r.Register.Verdict, Invalid)
				eq(t, "cause", r.Cause, CauseGrantedTwice)
				eq(t, "first violation", r.FirstViolation, 608*time.Millisecond)
			},
		},
		{
			name: "a holder that stalls and writes after its lease ran out is invalid: lease outlived",
			file: "overlap-lease-outlived.jsonl",
			want: Invalid,
			check: func(t *testing.T, r Result) {
				eq(t, "overlap count", r.Overlap.Count, 1)
				o := r.Overlap.Overlaps[0]
				eq(t, "cause", o.Cause, CauseLeaseOutlived)
				eq(t, "outlived", o.Outlived, "g1w1")
				eq(t, "both valid", o.BothValid, false)
				eq(t, "faults", o.Faults, []string{"client-stall"})
				if o.First.ValidAtWrite == nil || *o.First.ValidAtWrite != -197*time.Millisecond {
					t.Errorf("first holder's validity at the write = %v, want -197ms", o.First.ValidAtWrite)
				}
				eq(t, "second wrote first", o.Second.WroteAt < o.First.WroteAt, true)
			},
		},
		{
			name: "a stale read that overlaps no other section is a lost update only the register checker sees",
			file: "lost-update-no-overlap.jsonl",
			want: Invalid,
			check: func(t *testing.T, r Result) {
				eq(t, "overlap", r.Overlap.Verdict, Valid)
				eq(t, "register", r.Register.Verdict, Invalid)
				eq(t, "lost updates", len(r.Register.LostUpdates), 1)
				l := r.Register.LostUpdates[0]
				eq(t, "worker", l.Worker, "g2w1")
				eq(t, "read", l.Read, int64(10))
				if l.Held == nil || *l.Held != 11 {
					t.Errorf("held = %v, want 11", l.Held)
				}
				eq(t, "after", l.After, "g1w1")
				eq(t, "cause", r.Cause, CauseLostUpdate)
			},
		},
		{
			name: "a run with fewer written critical sections than the minimum is unknown",
			file: "too-little-work.jsonl",
			want: Unknown,
			check: func(t *testing.T, r Result) {
				eq(t, "written", r.CriticalSections, 5)
				eq(t, "minimum", r.MinCriticalSections, DefaultMinCriticalSections)
				eq(t, "exit code", r.Verdict.ExitCode(), 2)
			},
		},
		{
			name: "a history with a granted-twice overlap and a lease-outlived overlap reports both causes",
			file: "both-causes.jsonl",
			want: Invalid,
			check: func(t *testing.T, r Result) {
				eq(t, "overlap count", r.Overlap.Count, 2)
				eq(t, "causes", r.Overlap.Causes, map[Cause]int{CauseGrantedTwice: 1, CauseLeaseOutlived: 1})
				eq(t, "first key", r.Overlap.Overlaps[0].Key, "k0")
				eq(t, "first cause", r.Overlap.Overlaps[0].Cause, CauseGrantedTwice)
				eq(t, "first faults", r.Overlap.Overlaps[0].Faults, []string{"pause"})
				eq(t, "second key", r.Overlap.Overlaps[1].Key, "k1")
				eq(t, "second cause", r.Overlap.Overlaps[1].Cause, CauseLeaseOutlived)
				eq(t, "second outlived", r.Overlap.Overlaps[1].Outlived, "g2w1")
				eq(t, "second faults", r.Overlap.Overlaps[1].Faults, []string{})
				eq(t, "register segments", r.Register.IllegalSegments, 2)
			},
		},
		{
			name: "a history cut off mid-line is judged on its complete lines",
			file: "truncated.jsonl",
			want: Valid,
			check: func(t *testing.T, r Result) {
				eq(t, "written", r.CriticalSections, 21)
				if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "cut off") }) {
					t.Errorf("notes %q do not mention the cut-off line", r.Notes)
				}
			},
		},
		{
			name: "a fenced resource that accepts a stale token is invalid even when nothing overlaps",
			file: "fenced-stale-accepted.jsonl",
			want: Invalid,
			check: func(t *testing.T, r Result) {
				eq(t, "overlap", r.Overlap.Verdict, Valid)
				eq(t, "register", r.Register.Verdict, Valid)
				eq(t, "fencing", r.Fencing.Verdict, Invalid)
				eq(t, "decreases", r.Fencing.Decreases, 1)
				v := r.Fencing.Violations[0]
				eq(t, "violation", [2]int64{v.Fence, v.Highest}, [2]int64{15, 22})
				eq(t, "worker", v.Worker, "g2w1")
				eq(t, "cause", r.Cause, CauseStaleFence)
			},
		},
		{
			name: "a fenced resource that rejects a stalled holder's stale write stays valid and counts the rejection",
			file: "fenced-rejected.jsonl",
			want: Valid,
			check: func(t *testing.T, r Result) {
				eq(t, "rejected", r.Fencing.Rejected, 1)
				eq(t, "enforced", r.Fencing.Enforced, true)
				eq(t, "fenced sections", r.Liveness.All.CS.Fenced, 1)
			},
		},
		{
			name: "crashed and unfinished critical sections, whether they wrote or not, do not make a history invalid",
			file: "indeterminate.jsonl",
			want: Valid,
			check: func(t *testing.T, r Result) {
				eq(t, "indeterminate", r.Register.Indeterminate, 3)
				eq(t, "liveness indeterminate", r.Liveness.All.CS.Indeterminate, 3)
				eq(t, "fault not healed", r.Faults[0].Healed, false)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(load(t, tc.file), Options{})
			if r.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s\n%s", r.Verdict, tc.want, r.Text())
			}
			tc.check(t, r)
		})
	}
}

// TestSummariesGolden pins the one-line summary of every testdata history: the counterexample's workers, times,
// values, cause and faults. Run with -update to rewrite testdata/summaries.golden after a deliberate change.
func TestSummariesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata", err)
	}
	var b strings.Builder
	for _, f := range files {
		r := Check(load(t, filepath.Base(f)), Options{})
		b.WriteString(filepath.Base(f) + ": " + r.Summary() + "\n")
	}
	golden := filepath.Join("testdata", "summaries.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("summaries differ from %s (run with -update after a deliberate change)\ngot:\n%s\nwant:\n%s", golden, b.String(), want)
	}
}

func TestTheSummaryOfAnOverlapNamesWorkersKeyTimesValuesCauseAndFaults(t *testing.T) {
	r := Check(load(t, "overlap-granted-twice.jsonl"), Options{})
	want := "invalid: g1w1 and g2w1 overlap on k0 at 0.61s–0.62s (both read 10; granted-twice: g1w1's group was cut from n1 at 0.59s (partition); " +
		"the servers let g2w1 take the lock at 0.61s while g1w1 still believed in its own; faults: partition)"
	eq(t, "summary", r.Summary(), want)
}

func TestAGrantedTwicePairIsToldTheCutOnlyWhenItsFirstHoldersGroupWasCut(t *testing.T) {
	ov := Overlap{Cause: CauseGrantedTwice, First: CriticalSection{Worker: "g1w2", ReadAt: time.Second}, Second: CriticalSection{Worker: "g3w1"},
		From: 2 * time.Second, To: 3 * time.Second}
	cut := FaultWindow{Name: "partition", Targets: []string{"g1->n1", "g1->n2", "g2->n1"}, Note: "the servers close silent connections after 1s",
		From: 1500 * time.Millisecond, To: 4 * time.Second}
	tests := []struct {
		name   string
		faults []FaultWindow
		want   string
	}{
		{"a cut of its group in force tells the story with the fault's note", []FaultWindow{cut},
			"g1w2's group was cut from n1,n2 at 1.50s (partition: the servers close silent connections after 1s); the servers let g3w1 take the lock at 2.00s while g1w2 still believed in its own"},
		{"a cut of another group tells nothing", []FaultWindow{{Name: "partition", Targets: []string{"g2->n1"}, From: time.Second, To: 4 * time.Second}}, ""},
		{"a cut healed before its read tells nothing", []FaultWindow{{Name: "partition", Targets: []string{"g1->n1"}, From: 0, To: 500 * time.Millisecond}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eq(t, "story", cutStory(tc.faults, ov), tc.want)
		})
	}
}

func TestTheVerdictJSONHasATopLevelVerdictAndEveryChecker(t *testing.T) {
	r := Check(load(t, "both-causes.jsonl"), Options{})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"verdict", "reason", "overlap", "register", "fencing", "liveness", "critical_sections", "faults", "first_violation_ns", "cause"} {
		if _, ok := m[k]; !ok {
			t.Errorf("verdict.json lacks %q", k)
		}
	}
	eq(t, "verdict", string(m["verdict"]), `"invalid"`)
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	eq(t, "round trip", back.Overlap.Overlaps[1].Cause, CauseLeaseOutlived)
}

func TestTheTerminalTextShowsEveryChecker(t *testing.T) {
	txt := Check(load(t, "both-causes.jsonl"), Options{}).Text()
	for _, s := range []string{"overlap:  invalid", "register: invalid", "fencing:  valid", "liveness:", "acquire p99", "pause 0.49s–0.54s", "lease-outlived by g2w1"} {
		if !strings.Contains(txt, s) {
			t.Errorf("text lacks %q:\n%s", s, txt)
		}
	}
}

func TestTheVisualizationIsWrittenWithFaultAndOverlapAnnotations(t *testing.T) {
	r := Check(load(t, "overlap-granted-twice.jsonl"), Options{})
	path := filepath.Join(t.TempDir(), "linearizability.html")
	if err := r.WriteVisualization(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<html", `"Tag":"faults"`, `"Description":"partition"`, "granted-twice", "g1w1 on k0: read 10, wrote 11"} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("visualisation lacks %q", s)
		}
	}
}

func TestALargeRunIsVisualizedOnlyAroundItsViolations(t *testing.T) {
	s := synthetic(synthConfig{Cycles: 20000, OverlapEvery: 15000})
	r := Check(s.h, Options{MaxVisualized: 3000})
	eq(t, "verdict", r.Verdict, Invalid)
	var buf bytes.Buffer
	if err := r.Visualize(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("segments shown")) || !bytes.Contains(buf.Bytes(), []byte("granted-twice")) {
		t.Error("the cut-down visualisation lacks its note or the overlap")
	}
	if buf.Len() > 8<<20 {
		t.Errorf("visualisation of %d bytes; the cut-down one should be small", buf.Len())
	}
}

func TestAResultNotProducedByCheckWritesAnEmptyVisualization(t *testing.T) {
	var buf bytes.Buffer
	if err := (Result{}).Visualize(&buf); err != nil {
		t.Fatal(err)
	}
	eq(t, "summary of a zero result", Result{}.Summary(), "unknown")
}

func TestAnEmptyOrMissingHistoryIsUnknown(t *testing.T) {
	eq(t, "nil", Check(nil, Options{}).Verdict, Unknown)
	eq(t, "empty", Check(&history.History{}, Options{}).Verdict, Unknown)
}

func TestTheMinimumComesFromOptionsThenHeaderThenDefault(t *testing.T) {
	h := load(t, "too-little-work.jsonl")
	eq(t, "option", Check(h, Options{MinCriticalSections: 5}).Verdict, Valid)
	h.Header.MinCriticalSections = 4
	eq(t, "header", Check(h, Options{}).Verdict, Valid)
	h.Header.MinCriticalSections = 6
	eq(t, "header above", Check(h, Options{}).Verdict, Unknown)
}

func TestAViolationIsInvalidEvenWithTooLittleWork(t *testing.T) {
	h := load(t, "overlap-granted-twice.jsonl")
	r := Check(h, Options{MinCriticalSections: 1000})
	eq(t, "verdict", r.Verdict, Invalid)
}

func TestASearchThatRunsOutOfTimeIsUnknownUnlessOverlapFoundAViolation(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	valid := synthetic(synthConfig{Cycles: 200000, Keys: 1})
	r := Check(valid.h, Options{Timeout: time.Nanosecond})
	eq(t, "porcupine", r.Register.Porcupine, "Unknown")
	eq(t, "verdict", r.Verdict, Unknown)
	if !strings.Contains(r.Summary(), "timed out") {
		t.Errorf("summary %q does not say the search timed out", r.Summary())
	}
	bad := synthetic(synthConfig{Cycles: 200000, Keys: 1, OverlapEvery: 100000})
	r = Check(bad.h, Options{Timeout: time.Nanosecond})
	eq(t, "verdict with an overlap", r.Verdict, Invalid)
}

func TestMergeKeepsTheWorstVerdict(t *testing.T) {
	tests := []struct{ a, b, want Verdict }{
		{Valid, Valid, Valid},
		{Valid, Unknown, Unknown},
		{Unknown, Valid, Unknown},
		{Unknown, Invalid, Invalid},
		{Invalid, Unknown, Invalid},
		{Invalid, Valid, Invalid},
		{Valid, "", Unknown},
		{"bogus", Valid, Unknown},
	}
	for _, tc := range tests {
		eq(t, string(tc.a)+"+"+string(tc.b), Merge(tc.a, tc.b), tc.want)
	}
	eq(t, "all", MergeAll(Valid, Unknown, Valid), Unknown)
	eq(t, "none", MergeAll(), Valid)
}

func TestExitCodesFollowJepsen(t *testing.T) {
	eq(t, "valid", ExitCode(Valid), 0)
	eq(t, "invalid", ExitCode(Invalid), 1)
	eq(t, "unknown", ExitCode(Unknown), 2)
	eq(t, "other", Verdict("").ExitCode(), 2)
}

func TestOverlapsAreCountedAllButListedUpToTheCap(t *testing.T) {
	s := synthetic(synthConfig{Cycles: 30000, Keys: 3, OverlapEvery: 50})
	r := Check(s.h, Options{MaxListed: 7})
	eq(t, "count", r.Overlap.Count, s.overlaps)
	eq(t, "listed", len(r.Overlap.Overlaps), 7)
	for i := 1; i < len(r.Overlap.Overlaps); i++ {
		if r.Overlap.Overlaps[i].From < r.Overlap.Overlaps[i-1].From {
			t.Fatal("listed overlaps are not the earliest, in time order")
		}
	}
	eq(t, "first violation", r.FirstViolation, r.Overlap.Overlaps[0].From)
	eq(t, "lost updates listed", len(r.Register.LostUpdates) <= 7, true)
}

func TestSectionsThatWroteAtTheInstantAnotherReadDoNotOverlap(t *testing.T) {
	h := &history.History{Events: []history.Event{
		{T: 10, Ev: history.EvInvoke, ID: 1, Op: history.OpCS, Worker: "a", Key: "k"},
		{T: 20, Ev: history.EvOK, ID: 1, Op: history.OpCS, Read: history.Int(0), Wrote: history.Int(1)},
		{T: 20, Ev: history.EvInvoke, ID: 2, Op: history.OpCS, Worker: "b", Key: "k"},
		{T: 30, Ev: history.EvOK, ID: 2, Op: history.OpCS, Read: history.Int(1), Wrote: history.Int(2)},
	}}
	r := Check(h, Options{MinCriticalSections: 1})
	eq(t, "verdict", r.Verdict, Valid)
	// The same instants with a stale read: the overlap sweep cannot order them, the register checker can.
	h.Events[3].Read, h.Events[3].Wrote = history.Int(0), history.Int(1)
	r = Check(h, Options{MinCriticalSections: 1})
	eq(t, "overlap", r.Overlap.Verdict, Valid)
	eq(t, "verdict", r.Verdict, Invalid)
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}
