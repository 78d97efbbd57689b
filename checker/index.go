package checker

import (
	"slices"
	"strconv"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// reasonLeaseLost is the reason of a critical section abandoned because the lease told its holder it was lost.
const reasonLeaseLost = history.ReasonLeaseLost

// index is a history digested once for every checker: operations paired (history.Pair) and sorted, fault
// windows built.
type index struct {
	header history.Header
	events int
	first  int64 // earliest event time
	last   int64 // latest event time
	// ops are every operation as history.Pair paired them, in its order: what Result.Ops hands on to the report.
	ops      []history.Op
	cs       []history.Op // critical sections, sorted by start (orphans by end)
	acquires []history.Op
	faults   []FaultWindow
	notes    []string
	workers  []string // every worker named, sorted
	// ends are the extends and releases that tell what became of their worker (a crash, or no completion):
	// the liveness verdict reads them to say why a key was left behind. The others are not kept.
	ends []history.Op
	// fired are the instants a failpoint went off on each worker (a stall or a crash at a point of its protocol).
	fired map[string][]int64
}

// buildIndex pairs invocations with completions (history.Pair) and sorts what the checkers need. The file's order
// does not matter: pairing goes by id, and every derived list is sorted by time.
func buildIndex(h *history.History) *index {
	ix := &index{}
	if h == nil {
		return ix
	}
	ix.header, ix.events = h.Header, len(h.Events)
	if h.Truncated != "" {
		ix.notes = append(ix.notes, "history cut off: "+h.Truncated)
	}
	if len(h.Events) == 0 {
		return ix
	}
	ix.first, ix.last = timeBounds(h.Events)
	p := history.Pair(h.Events)
	ix.ops = p.Ops
	unknown := ix.sortOps(p.Ops)
	ix.workers = workersOf(p.Ops)
	fev := history.FaultEvents(h.Events)
	ix.faults = faultWindows(fev, ix.last, &ix.notes)
	ix.fired = firedOn(fev)
	ix.notePairing(p, unknown)
	return ix
}

// timeBounds are the earliest and the latest instants of a non-empty list of events.
func timeBounds(evs []history.Event) (first, last int64) {
	first, last = evs[0].T, evs[0].T
	for i := range evs {
		first, last = min(first, evs[i].T), max(last, evs[i].T)
	}
	return first, last
}

// sortOps files each operation in the list its checkers read, sorts the critical sections by start, and counts
// the operations of a kind no checker knows.
func (ix *index) sortOps(ops []history.Op) (unknown int) {
	cs, acquires := 0, 0
	for i := range ops {
		switch ops[i].Name {
		case history.OpCS:
			cs++
		case history.OpAcquire:
			acquires++
		}
	}
	ix.cs, ix.acquires = make([]history.Op, 0, cs), make([]history.Op, 0, acquires)
	for i := range ops {
		o := &ops[i]
		switch o.Name {
		case history.OpCS:
			ix.cs = append(ix.cs, *o)
		case history.OpAcquire:
			ix.acquires = append(ix.acquires, *o)
		case history.OpExtend, history.OpRelease:
			if o.Reason == reasonClientCrash || (o.Outcome == history.OutPending && !o.Orphan) {
				ix.ends = append(ix.ends, *o)
			}
		default:
			unknown++
		}
	}
	slices.SortFunc(ix.cs, func(a, b history.Op) int {
		if c := cmpInt(a.Start, b.Start); c != 0 {
			return c
		}
		return cmpInt(a.ID, b.ID)
	})
	return unknown
}

// workersOf lists every worker the operations name, sorted.
func workersOf(ops []history.Op) []string {
	seen := map[string]struct{}{}
	var workers []string
	for i := range ops {
		if w := ops[i].Worker; w != "" {
			if _, ok := seen[w]; !ok {
				seen[w] = struct{}{}
				workers = append(workers, w)
			}
		}
	}
	slices.Sort(workers)
	return workers
}

// notePairing says in the notes what the pairing set aside and what no checker could read.
func (ix *index) notePairing(p history.Pairing, unknown int) {
	if p.Duplicates > 0 {
		ix.notes = append(ix.notes, plural(p.Duplicates, "event", "events")+" repeated an id already used, ignored")
	}
	if p.Orphans > 0 {
		ix.notes = append(ix.notes, plural(p.Orphans, "completion", "completions")+" without an invocation")
	}
	if unknown > 0 {
		ix.notes = append(ix.notes, plural(unknown, "operation", "operations")+" of an unknown kind, ignored")
	}
}

// span is the time the history covers.
func (ix *index) span() time.Duration { return time.Duration(ix.last - ix.first) }

// criticalSectionOf converts a critical section to its exported form.
func criticalSectionOf(o *history.Op) CriticalSection {
	c := CriticalSection{ID: o.ID, Worker: o.Worker, Key: o.Key, ReadAt: time.Duration(o.Start),
		WroteAt: time.Duration(o.End), Read: o.Read, Wrote: o.Wrote, Fence: o.Fence}
	if o.HasValidStart {
		c.ValidAtRead = ptr(time.Duration(o.ValidStart))
	}
	if o.HasValidEnd {
		c.ValidAtWrite = ptr(time.Duration(o.ValidEnd))
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// firedOn lists, for each worker, the instants a failpoint went off on it.
func firedOn(evs []history.Event) map[string][]int64 {
	m := map[string][]int64{}
	for _, e := range evs {
		if e.Phase == history.PhaseFire {
			for _, w := range e.Targets {
				m[w] = append(m[w], e.T)
			}
		}
	}
	return m
}
