package checker

import (
	"slices"
	"strconv"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// outcome is how an operation ended.
type outcome uint8

const (
	outPending outcome = iota // no completion in the history: the worker crashed or the run was cut off
	outOK
	outFail
	outInfo
)

func outcomeOf(ev string) (outcome, bool) {
	switch ev {
	case history.EvOK:
		return outOK, true
	case history.EvFail:
		return outFail, true
	case history.EvInfo:
		return outInfo, true
	}
	return outPending, false
}

// reasonLeaseLost is the reason of a critical section abandoned because the lease told its holder it was lost.
const reasonLeaseLost = history.ReasonLeaseLost

// op is one operation of the history: an invocation paired with its completion by id.
type op struct {
	id      int64
	name    string
	worker  string
	key     string
	start   int64 // the invocation's time; for a critical section, the instant of the read
	end     int64 // the completion's time; for a critical section that wrote, the instant of the write
	out     outcome
	orphan  bool // a completion whose invocation is missing: start is unknown
	reason  string
	errText string // the completion's error text (a crash names the step it died at)
	fence   int64
	read    int64
	wrote   int64
	hasRead bool
	hasWrot bool
	// validRead and validEnd are the holder's validity left at the invocation and at the completion.
	validRead, validEnd       int64
	hasValidRead, hasValidEnd bool
}

// index is a history digested once for every checker: operations paired and sorted, fault windows built.
type index struct {
	header   history.Header
	events   int
	first    int64 // earliest event time
	last     int64 // latest event time
	cs       []op  // critical sections, sorted by start (orphans by end)
	acquires []op
	faults   []FaultWindow
	notes    []string
	workers  []string // every worker named, sorted
	// ends are the extends and releases that tell what became of their worker (a crash, or no completion):
	// the liveness verdict reads them to say why a key was left behind. The others are not kept.
	ends []op
}

// buildIndex pairs invocations with completions and sorts what the checkers need. The file's order does not
// matter: pairing goes by id, and every derived list is sorted by time.
func buildIndex(h *history.History) *index {
	ix := &index{}
	if h == nil {
		return ix
	}
	ix.header = h.Header
	ix.events = len(h.Events)
	if h.Truncated != "" {
		ix.notes = append(ix.notes, "history cut off: "+h.Truncated)
	}
	evs := h.Events
	if len(evs) == 0 {
		return ix
	}
	ix.first, ix.last = evs[0].T, evs[0].T
	maxID := int64(0)
	invokes, csInvokes, acqInvokes := 0, 0, 0
	for i := range evs {
		e := &evs[i]
		ix.first = min(ix.first, e.T)
		ix.last = max(ix.last, e.T)
		if e.ID > maxID {
			maxID = e.ID
		}
		if e.Ev == history.EvInvoke {
			invokes++
			switch e.Op {
			case history.OpCS:
				csInvokes++
			case history.OpAcquire:
				acqInvokes++
			}
		}
	}
	ix.cs = make([]op, 0, csInvokes)
	ix.acquires = make([]op, 0, acqInvokes)

	// Ids come from a counter, so a slice indexed by id is the fast lookup; a sparse or hostile id space falls
	// back to a map.
	var dense []int32
	var sparse map[int64]int32
	if maxID >= 0 && maxID <= int64(4*len(evs)+1024) {
		dense = make([]int32, maxID+1)
	} else {
		sparse = make(map[int64]int32, invokes)
	}
	lookup := func(id int64) (int32, bool) {
		if dense != nil {
			if id < 0 || id >= int64(len(dense)) || dense[id] == 0 {
				return 0, false
			}
			return dense[id] - 1, true
		}
		i, ok := sparse[id]
		return i, ok
	}
	store := func(id int64, i int32) {
		if dense != nil {
			if id >= 0 && id < int64(len(dense)) {
				dense[id] = i + 1
			}
			return
		}
		sparse[id] = i
	}

	ops := make([]op, 0, invokes)
	var faultEvs []history.Event
	duplicates, unknownOps := 0, 0
	for i := range evs {
		e := &evs[i]
		switch e.Ev {
		case history.EvFault:
			faultEvs = append(faultEvs, *e)
			continue
		case history.EvInvoke:
		default:
			continue
		}
		if j, ok := lookup(e.ID); ok {
			// Two invocations with one id: keep the earlier.
			duplicates++
			if e.T < ops[j].start {
				ops[j].start = e.T
			}
			continue
		}
		o := op{id: e.ID, name: e.Op, worker: e.Worker, key: e.Key, start: e.T, end: e.T, fence: e.Fence}
		if e.ValidNS != nil {
			o.validRead, o.hasValidRead = *e.ValidNS, true
		}
		if e.Read != nil {
			o.read, o.hasRead = *e.Read, true
		}
		ops = append(ops, o)
		store(e.ID, int32(len(ops)-1))
	}
	done := make([]bool, len(ops))
	orphans := 0
	for i := range evs {
		e := &evs[i]
		out, ok := outcomeOf(e.Ev)
		if !ok {
			continue
		}
		j, found := lookup(e.ID)
		var o *op
		if found {
			if done[j] {
				duplicates++
				continue
			}
			done[j] = true
			o = &ops[j]
		} else {
			// A completion without its invocation: keep what it says, with an unknown start.
			orphans++
			ops = append(ops, op{id: e.ID, name: e.Op, worker: e.Worker, key: e.Key, start: e.T, orphan: true})
			done = append(done, true)
			o = &ops[len(ops)-1]
		}
		o.out = out
		o.end = e.T
		o.reason, o.errText = e.Reason, e.Error
		if o.name == "" {
			o.name = e.Op
		}
		if o.worker == "" {
			o.worker = e.Worker
		}
		if o.key == "" {
			o.key = e.Key
		}
		if e.Fence != 0 {
			o.fence = e.Fence
		}
		if e.ValidNS != nil {
			o.validEnd, o.hasValidEnd = *e.ValidNS, true
		}
		if e.Read != nil {
			o.read, o.hasRead = *e.Read, true
		}
		if e.Wrote != nil {
			o.wrote, o.hasWrot = *e.Wrote, true
		}
	}

	workers := map[string]struct{}{}
	for i := range ops {
		o := &ops[i]
		if o.end < o.start {
			// A completion stamped before its invocation cannot be trusted to bound anything; make the operation
			// a point so that no checker reads a negative interval.
			o.end = o.start
		}
		if o.worker != "" {
			workers[o.worker] = struct{}{}
		}
		switch o.name {
		case history.OpCS:
			ix.cs = append(ix.cs, *o)
		case history.OpAcquire:
			ix.acquires = append(ix.acquires, *o)
		case history.OpExtend, history.OpRelease:
			if o.reason == reasonClientCrash || (o.out == outPending && !o.orphan) {
				ix.ends = append(ix.ends, *o)
			}
		default:
			unknownOps++
		}
	}
	slices.SortFunc(ix.cs, func(a, b op) int {
		if c := cmpInt(a.start, b.start); c != 0 {
			return c
		}
		return cmpInt(a.id, b.id)
	})
	for w := range workers {
		ix.workers = append(ix.workers, w)
	}
	slices.Sort(ix.workers)
	ix.faults = faultWindows(faultEvs, ix.last, &ix.notes)

	if duplicates > 0 {
		ix.notes = append(ix.notes, plural(duplicates, "event", "events")+" repeated an id already used, ignored")
	}
	if orphans > 0 {
		ix.notes = append(ix.notes, plural(orphans, "completion", "completions")+" without an invocation")
	}
	if unknownOps > 0 {
		ix.notes = append(ix.notes, plural(unknownOps, "operation", "operations")+" of an unknown kind, ignored")
	}
	return ix
}

// span is the time the history covers.
func (ix *index) span() time.Duration { return time.Duration(ix.last - ix.first) }

// criticalSection converts a critical section to its exported form.
func (o *op) criticalSection() CriticalSection {
	c := CriticalSection{ID: o.id, Worker: o.worker, Key: o.key, ReadAt: time.Duration(o.start),
		WroteAt: time.Duration(o.end), Read: o.read, Wrote: o.wrote, Fence: o.fence}
	if o.hasValidRead {
		c.ValidAtRead = ptr(time.Duration(o.validRead))
	}
	if o.hasValidEnd {
		c.ValidAtWrite = ptr(time.Duration(o.validEnd))
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
