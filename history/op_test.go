package history

import (
	"reflect"
	"testing"
)

func invoke(t, id int64, op, worker string) Event {
	return Event{T: t, Ev: EvInvoke, ID: id, Op: op, Worker: worker, Key: "k0"}
}

func complete(t, id int64, ev string) Event { return Event{T: t, Ev: ev, ID: id} }

func TestPairFollowsOneRuleForEveryEdgeCase(t *testing.T) {
	cases := []struct {
		name       string
		events     []Event
		want       []Op
		duplicates int
		orphans    int
	}{
		{
			name:   "an invocation and its completion make one operation",
			events: []Event{invoke(10, 1, OpAcquire, "w1"), {T: 12, Ev: EvOK, ID: 1, Fence: 3, ValidNS: Int(100)}},
			want: []Op{{ID: 1, Name: OpAcquire, Worker: "w1", Key: "k0", Start: 10, End: 12, Outcome: OutOK, Fence: 3,
				ValidEnd: 100, HasValidEnd: true}},
		},
		{
			name:   "an invocation without a completion stays pending and ends where it starts",
			events: []Event{invoke(10, 1, OpCS, "w1")},
			want:   []Op{{ID: 1, Name: OpCS, Worker: "w1", Key: "k0", Start: 10, End: 10}},
		},
		{
			name:   "a second invocation of an id is ignored but moves the start to the earlier instant",
			events: []Event{invoke(30, 1, OpCS, "w1"), invoke(20, 1, OpCS, "w2"), complete(40, 1, EvFail)},
			want:   []Op{{ID: 1, Name: OpCS, Worker: "w1", Key: "k0", Start: 20, End: 40, Outcome: OutFail}},
			// The later invocation names another worker: it is ignored all the same.
			duplicates: 1,
		},
		{
			name:       "a second completion of an id is ignored: the first in the file wins",
			events:     []Event{invoke(10, 1, OpRelease, "w1"), complete(12, 1, EvOK), complete(11, 1, EvFail)},
			want:       []Op{{ID: 1, Name: OpRelease, Worker: "w1", Key: "k0", Start: 10, End: 12, Outcome: OutOK}},
			duplicates: 1,
		},
		{
			name:    "a completion without an invocation is an orphan at its own instant",
			events:  []Event{{T: 50, Ev: EvOK, ID: 9, Op: OpCS, Worker: "w3", Read: Int(1), Wrote: Int(2)}},
			want:    []Op{{ID: 9, Name: OpCS, Worker: "w3", Start: 50, End: 50, Outcome: OutOK, Orphan: true, Read: 1, Wrote: 2, HasRead: true, HasWrote: true}},
			orphans: 1,
		},
		{
			name:   "two completions of an id never invoked are two orphans, paired with nothing",
			events: []Event{{T: 50, Ev: EvInfo, ID: 9, Op: OpAcquire}, {T: 51, Ev: EvFail, ID: 9, Op: OpAcquire}},
			want: []Op{{ID: 9, Name: OpAcquire, Start: 50, End: 50, Outcome: OutInfo, Orphan: true},
				{ID: 9, Name: OpAcquire, Start: 51, End: 51, Outcome: OutFail, Orphan: true}},
			orphans: 2,
		},
		{
			name:   "a completion stamped before its invocation ends where the operation starts",
			events: []Event{invoke(80, 1, OpAcquire, "w1"), complete(75, 1, EvOK)},
			want:   []Op{{ID: 1, Name: OpAcquire, Worker: "w1", Key: "k0", Start: 80, End: 80, Outcome: OutOK}},
		},
		{
			name:   "a completion before its invocation in the file still pairs with it",
			events: []Event{complete(85, 1, EvOK), invoke(82, 1, OpCS, "w1")},
			want:   []Op{{ID: 1, Name: OpCS, Worker: "w1", Key: "k0", Start: 82, End: 85, Outcome: OutOK}},
		},
		{
			name: "a completion fills in what the invocation left empty and overrides what it read",
			events: []Event{{T: 10, Ev: EvInvoke, ID: 1, Read: Int(4), ValidNS: Int(90), Fence: 2},
				{T: 20, Ev: EvOK, ID: 1, Op: OpCS, Worker: "w1", Key: "k1", Read: Int(5), Wrote: Int(6), Fence: 3, Reason: "r", Error: "e"}},
			want: []Op{{ID: 1, Name: OpCS, Worker: "w1", Key: "k1", Start: 10, End: 20, Outcome: OutOK, Reason: "r", Error: "e",
				Fence: 3, Read: 5, Wrote: 6, HasRead: true, HasWrote: true, ValidStart: 90, HasValidStart: true}},
		},
		{
			name:   "a negative id pairs like any other, beside ids small enough for a table",
			events: []Event{invoke(1, -5, OpExtend, "w1"), invoke(2, 1, OpExtend, "w1"), complete(3, 1, EvOK), complete(4, -5, EvInfo)},
			want: []Op{{ID: -5, Name: OpExtend, Worker: "w1", Key: "k0", Start: 1, End: 4, Outcome: OutInfo},
				{ID: 1, Name: OpExtend, Worker: "w1", Key: "k0", Start: 2, End: 3, Outcome: OutOK}},
		},
		{
			name:   "ids too far apart for a table pair all the same",
			events: []Event{invoke(1, 1<<40, OpExtend, "w1"), invoke(2, 0, OpExtend, "w1"), complete(3, 0, EvOK), complete(4, 1<<40, EvOK)},
			want: []Op{{ID: 1 << 40, Name: OpExtend, Worker: "w1", Key: "k0", Start: 1, End: 4, Outcome: OutOK},
				{ID: 0, Name: OpExtend, Worker: "w1", Key: "k0", Start: 2, End: 3, Outcome: OutOK}},
		},
		{
			name: "operations come in the order of their invocations, orphans last, faults left out",
			events: []Event{complete(9, 7, EvOK), invoke(5, 2, OpCS, "w2"), {T: 6, Ev: EvFault, Name: "partition", Phase: PhaseInject},
				invoke(1, 3, OpCS, "w1")},
			want: []Op{{ID: 2, Name: OpCS, Worker: "w2", Key: "k0", Start: 5, End: 5}, {ID: 3, Name: OpCS, Worker: "w1", Key: "k0", Start: 1, End: 1},
				{ID: 7, Start: 9, End: 9, Outcome: OutOK, Orphan: true}},
			orphans: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Pair(c.events)
			if !reflect.DeepEqual(p.Ops, c.want) || p.Duplicates != c.duplicates || p.Orphans != c.orphans {
				t.Fatalf("Pair = %+v (%d duplicates, %d orphans)\nwant %+v (%d duplicates, %d orphans)",
					p.Ops, p.Duplicates, p.Orphans, c.want, c.duplicates, c.orphans)
			}
		})
	}
}

func TestOutcomeOfNamesTheCompletionsOnly(t *testing.T) {
	for ev, want := range map[string]Outcome{EvOK: OutOK, EvFail: OutFail, EvInfo: OutInfo} {
		if got, ok := OutcomeOf(ev); !ok || got != want || got.String() != ev {
			t.Errorf("OutcomeOf(%q) = %v, %v", ev, got, ok)
		}
	}
	for _, ev := range []string{EvInvoke, EvFault, EvHeader, ""} {
		if _, ok := OutcomeOf(ev); ok {
			t.Errorf("OutcomeOf(%q) says it completes an operation", ev)
		}
	}
}
