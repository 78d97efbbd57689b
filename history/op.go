package history

// Outcome is how an operation ended, as its completion event says. It exists so that every reader of a history
// tells the outcomes apart by one value rather than by re-reading event kinds.
type Outcome uint8

// The outcomes of an operation, Jepsen's three and the absence of any.
const (
	// OutPending: the history holds no completion: the worker crashed or the run was cut off first.
	OutPending Outcome = iota
	// OutOK: the operation took effect (an ok completion).
	OutOK
	// OutFail: the operation definitely had no effect (a fail completion).
	OutFail
	// OutInfo: the operation may or may not have taken effect (an info completion).
	OutInfo
)

// OutcomeOf is the outcome a completion event of kind ev reports; false when ev completes nothing (an invocation,
// a fault, the header). It is the one place that says which events are completions.
func OutcomeOf(ev string) (Outcome, bool) {
	switch ev {
	case EvOK:
		return OutOK, true
	case EvFail:
		return OutFail, true
	case EvInfo:
		return OutInfo, true
	}
	return OutPending, false
}

// String is the event kind of the outcome ("ok", "fail", "info"), or "pending", for messages and tests.
func (o Outcome) String() string {
	switch o {
	case OutOK:
		return EvOK
	case OutFail:
		return EvFail
	case OutInfo:
		return EvInfo
	}
	return "pending"
}

// Op is one operation of a history: an invocation and its completion, paired by id (see Pair). It exists so that
// the checker and the report read the same operations: the report draws the very operations the verdict was
// reached on, and so cannot disagree with it.
type Op struct {
	ID int64
	// Name is the operation (OpAcquire, OpExtend, OpRelease, OpCS, or whatever else the history named).
	Name   string
	Worker string
	Key    string
	// Start is the invocation's instant; for a critical section, the instant of its read. An orphan (a completion
	// without an invocation) has none: its Start is its completion's instant.
	Start int64
	// End is the completion's instant, never before Start; for a critical section that wrote, the instant of its
	// write. Without a completion (OutPending) it is the instant of the invocation recorded first.
	End     int64
	Outcome Outcome
	// Orphan: the completion's invocation is missing from the history, so when the operation began is unknown.
	Orphan bool
	// Reason and Error are the completion's (why a critical section did not write; the error text of a failed
	// or indeterminate operation, which names the step a crashed worker died at).
	Reason string
	Error  string
	// Fence is the lease's fencing token, from the completion when it carries one, else from the invocation.
	Fence int64
	// Read and Wrote are the values of the protected counter a critical section read and wrote, when HasRead
	// and HasWrote. A completion's Read overrides its invocation's.
	Read, Wrote       int64
	HasRead, HasWrote bool
	// ValidStart and ValidEnd are the holder's own belief of how long its lease stays valid, measured from Start
	// (the invocation's ValidNS) and from End (the completion's), when HasValidStart and HasValidEnd.
	ValidStart, ValidEnd       int64
	HasValidStart, HasValidEnd bool
}

// Pairing is a history's events paired into operations, with what the pairing had to set aside. It is what every
// reader of a history starts from, so that they all agree on which operations there were.
type Pairing struct {
	// Ops are the operations in the order of their invocations in the file, followed by the orphans in the order
	// of their completions.
	Ops []Op
	// Duplicates counts the events that repeated an id already used: a second invocation, or a second
	// completion of an invoked operation. They are ignored (see Pair).
	Duplicates int
	// Orphans counts the completions whose invocation is missing. Each is kept as an operation of its own.
	Orphans int
}

// Pair pairs every invocation in events with its completion by id. The file's order does not matter, except
// that among events repeating an id the first in the file wins. The rule, which the verdict and the report both
// rest on:
//
//   - an invocation makes an operation, pending until a completion with its id comes;
//   - a second invocation of an id is a duplicate and is ignored, except that the operation starts at the earlier
//     of the two instants;
//   - the first completion of an invoked id completes it: it sets the outcome, the end and the reason and error,
//     fills the name, worker and key the invocation left empty, and overrides the fence, the values read and
//     written and the validity it carries; any later completion of that id is a duplicate and is ignored;
//   - a completion whose id was never invoked is an orphan: an operation of its own, starting and ending at the
//     completion's instant. Nothing is paired with an orphan, not even a second completion with its id: with no
//     invocation to say so, nothing tells that they ended the same operation;
//   - a completion stamped before its invocation cannot be trusted to bound anything: the operation ends where
//     it starts, so that no reader meets a negative interval.
func Pair(events []Event) Pairing {
	invokes, maxID := countInvokes(events)
	p := pairer{ops: make([]Op, 0, invokes), ids: newIDTable(maxID, len(events))}
	for i := range events {
		if events[i].Ev == EvInvoke {
			p.invoke(&events[i])
		}
	}
	for i := range events {
		if out, ok := OutcomeOf(events[i].Ev); ok {
			p.complete(&events[i], out)
		}
	}
	for i := range p.ops {
		p.ops[i].End = max(p.ops[i].End, p.ops[i].Start)
	}
	return Pairing{Ops: p.ops, Duplicates: p.duplicates, Orphans: p.orphans}
}

// countInvokes counts the invocations, to size the operations, and finds the largest id, to size the id table.
func countInvokes(events []Event) (invokes int, maxID int64) {
	for i := range events {
		maxID = max(maxID, events[i].ID)
		if events[i].Ev == EvInvoke {
			invokes++
		}
	}
	return invokes, maxID
}

// pairer is Pair's state: the operations so far and where each invoked id's operation is.
type pairer struct {
	ops        []Op
	ids        idTable
	duplicates int
	orphans    int
}

// invoke opens the operation of an invocation, or folds a duplicate invocation into the operation it repeats.
func (p *pairer) invoke(e *Event) {
	if j, dup := p.ids.get(e.ID); dup {
		p.duplicates++
		p.ops[j].Start = min(p.ops[j].Start, e.T)
		return
	}
	o := Op{ID: e.ID, Name: e.Op, Worker: e.Worker, Key: e.Key, Start: e.T, End: e.T, Fence: e.Fence}
	if e.ValidNS != nil {
		o.ValidStart, o.HasValidStart = *e.ValidNS, true
	}
	if e.Read != nil {
		o.Read, o.HasRead = *e.Read, true
	}
	p.ops = append(p.ops, o)
	p.ids.put(e.ID, len(p.ops)-1)
}

// complete completes the operation a completion's id names, or keeps the completion as an orphan when no
// invocation named it.
func (p *pairer) complete(e *Event, out Outcome) {
	j, invoked := p.ids.get(e.ID)
	if !invoked {
		p.orphans++
		p.ops = append(p.ops, Op{ID: e.ID, Start: e.T, Orphan: true})
		p.ops[len(p.ops)-1].completeWith(e, out)
		return
	}
	if p.ops[j].Outcome != OutPending {
		p.duplicates++
		return
	}
	p.ops[j].completeWith(e, out)
}

// completeWith records what a completion says of the operation.
func (o *Op) completeWith(e *Event, out Outcome) {
	o.Outcome, o.End = out, e.T
	o.Reason, o.Error = e.Reason, e.Error
	if o.Name == "" {
		o.Name = e.Op
	}
	if o.Worker == "" {
		o.Worker = e.Worker
	}
	if o.Key == "" {
		o.Key = e.Key
	}
	if e.Fence != 0 {
		o.Fence = e.Fence
	}
	if e.ValidNS != nil {
		o.ValidEnd, o.HasValidEnd = *e.ValidNS, true
	}
	if e.Read != nil {
		o.Read, o.HasRead = *e.Read, true
	}
	if e.Wrote != nil {
		o.Wrote, o.HasWrote = *e.Wrote, true
	}
}

// idTable finds the operation of an invoked id. Ids come from a counter, so a slice indexed by id is the fast
// lookup; an id outside it (a sparse, negative or hostile id space) falls back to a map.
type idTable struct {
	dense  []int32 // index+1 of the id's operation, 0 for none
	sparse map[int64]int
}

// newIDTable sizes the dense part for ids up to maxID when that stays within a few slots per event.
func newIDTable(maxID int64, events int) idTable {
	if maxID <= int64(4*events+1024) {
		return idTable{dense: make([]int32, maxID+1)}
	}
	return idTable{}
}

func (t *idTable) get(id int64) (int, bool) {
	if id >= 0 && id < int64(len(t.dense)) {
		i := t.dense[id]
		return int(i) - 1, i != 0
	}
	i, ok := t.sparse[id]
	return i, ok
}

func (t *idTable) put(id int64, i int) {
	if id >= 0 && id < int64(len(t.dense)) {
		t.dense[id] = int32(i + 1)
		return
	}
	if t.sparse == nil {
		t.sparse = map[int64]int{}
	}
	t.sparse[id] = i
}
