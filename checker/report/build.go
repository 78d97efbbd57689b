package report

import (
	"cmp"
	"slices"

	"github.com/redlock-harness/redlock-harness/history"
)

// buildTimeline turns a history into what the page draws, its events paired here by history.Pair: the timeline
// of a history no checker has judged. Write draws the checker's own pairing instead (see Input.Ops).
func buildTimeline(h *history.History, viols []Violation) *timeline {
	return drawTimeline(h, Input{History: h}.operations(), viols)
}

// operations are the operations the page draws: the checker's (Ops), or, when the caller gave none, History's
// events paired here by the same rule.
func (in Input) operations() []history.Op {
	if in.Ops != nil || in.History == nil {
		return in.Ops
	}
	return history.Pair(in.History.Events).Ops
}

// drawTimeline turns the operations of h into what the page draws: each placed on its worker's lane, leases
// reconstructed, fault windows built from h's fault events, the violations located. A nil h draws nothing but
// the marks.
func drawTimeline(h *history.History, ops []history.Op, viols []Violation) *timeline {
	tl := &timeline{Lanes: []string{}, Keys: []string{}, Texts: []string{}, Acquires: []attempt{}, Extends: []attempt{},
		Releases: []attempt{}, Leases: []lease{}, CS: []section{}, Faults: []fault{}, Marks: []mark{}}
	if h != nil {
		tl.End = lastInstant(h.Events)
		placeOps(tl, ops)
		tl.Leases = buildLeases(tl)
		tl.Faults = faultWindows(history.FaultEvents(h.Events), tl.End)
	}
	tl.Marks = buildMarks(tl, viols)
	return tl
}

// lastInstant is the latest instant of the history, the end of the time axis (never before the run's start).
func lastInstant(evs []history.Event) int64 {
	var end int64
	for i := range evs {
		end = max(end, evs[i].T)
	}
	return end
}

// writtenSections counts the critical sections that wrote, drawn or not: the work the verdict rests on, counted
// as the checker counts it.
func writtenSections(ops []history.Op) int {
	n := 0
	for i := range ops {
		if ops[i].Name == history.OpCS && ops[i].Outcome == history.OutOK {
			n++
		}
	}
	return n
}

// placeOps puts each operation on its worker's lane, sorted by lane, then start, and notes what it could not
// draw.
func placeOps(tl *timeline, ops []history.Op) {
	tl.Lanes = laneOrder(workerNames(ops))
	p := placer{tl: tl, lanes: make(map[string]int, len(tl.Lanes)), keys: newInterner(&tl.Keys), texts: newInterner(&tl.Texts)}
	for i, w := range tl.Lanes {
		p.lanes[w] = i
	}
	p.reserve(ops)
	for i := range ops {
		p.place(&ops[i])
	}
	sortByLane(tl)
	tl.Notes = append(tl.Notes, p.notes()...)
}

// workerNames are the workers the operations name, each once, in order of first appearance.
func workerNames(ops []history.Op) []string {
	var names []string
	seen := map[string]bool{}
	for i := range ops {
		if w := ops[i].Worker; w != "" && !seen[w] {
			seen[w] = true
			names = append(names, w)
		}
	}
	return names
}

// placer is placeOps's state: where each worker's lane is, the keys and texts numbered so far, and what was not
// drawn.
type placer struct {
	tl                         *timeline
	lanes                      map[string]int
	keys, texts                *interner
	orphans, noWorker, unknown int
}

// reserve sizes the timeline's lists for the operations of each kind.
func (p *placer) reserve(ops []history.Op) {
	counts := map[string]int{}
	for i := range ops {
		counts[ops[i].Name]++
	}
	p.tl.Acquires = make([]attempt, 0, counts[history.OpAcquire])
	p.tl.Extends = make([]attempt, 0, counts[history.OpExtend])
	p.tl.Releases = make([]attempt, 0, counts[history.OpRelease])
	p.tl.CS = make([]section, 0, counts[history.OpCS])
}

// place draws one operation on its worker's lane. One still pending when the history ends lasts, as far as
// anyone can tell, to the end.
func (p *placer) place(o *history.Op) {
	if o.Orphan {
		p.orphans++
	}
	lane, ok := p.lanes[o.Worker]
	if !ok {
		p.noWorker++
		return
	}
	t1 := o.End
	if o.Outcome == history.OutPending {
		t1 = max(p.tl.End, o.Start)
	}
	switch o.Name {
	case history.OpAcquire:
		p.tl.Acquires = append(p.tl.Acquires, p.attempt(o, lane, t1))
	case history.OpExtend:
		p.tl.Extends = append(p.tl.Extends, p.attempt(o, lane, t1))
	case history.OpRelease:
		p.tl.Releases = append(p.tl.Releases, p.attempt(o, lane, t1))
	case history.OpCS:
		p.tl.CS = append(p.tl.CS, p.section(o, lane, t1))
	default:
		p.unknown++
	}
}

// attempt is an acquire, extend or release as the page draws it, with the validity it granted when it did.
func (p *placer) attempt(o *history.Op, lane int, t1 int64) attempt {
	a := attempt{Lane: lane, Key: p.keys.index(o.Key), ID: o.ID, T0: o.Start, T1: t1, Out: outCode(o.Outcome),
		Fence: o.Fence, Err: p.texts.index(firstOf(o.Error, o.Reason))}
	if o.Outcome == history.OutOK && o.HasValidEnd {
		a.Valid, a.HasValid = o.ValidEnd, true
	}
	return a
}

// section is a critical section as the page draws it.
func (p *placer) section(o *history.Op, lane int, t1 int64) section {
	return section{Lane: lane, Key: p.keys.index(o.Key), ID: o.ID, T0: o.Start, T1: t1, Out: outCode(o.Outcome),
		Fence: o.Fence, Reason: p.texts.index(firstOf(o.Reason, o.Error)), Read: o.Read, HasRead: o.HasRead,
		Wrote: o.Wrote, HasWrote: o.HasWrote, ValidRead: o.ValidStart, HasValidRead: o.HasValidStart,
		ValidWrite: o.ValidEnd, HasValidWrite: o.HasValidEnd}
}

// notes say what the timeline could not draw as it happened.
func (p *placer) notes() []string {
	var notes []string
	if p.orphans > 0 {
		notes = append(notes, plural(p.orphans, "completion")+" without an invocation (drawn where it completed)")
	}
	if p.noWorker > 0 {
		notes = append(notes, plural(p.noWorker, "operation")+" naming no worker (not drawn)")
	}
	if p.unknown > 0 {
		notes = append(notes, plural(p.unknown, "operation")+" of an unknown kind (not drawn)")
	}
	return notes
}

// outCode is the page script's code of an outcome.
func outCode(o history.Outcome) int {
	switch o {
	case history.OutOK:
		return outOK
	case history.OutFail:
		return outFail
	case history.OutInfo:
		return outInfo
	}
	return outPending
}

// sortByLane sorts every list of items by lane, then start, then id, as the page's binary search needs.
func sortByLane(tl *timeline) {
	byLane := func(l1, l2 int, t1, t2, id1, id2 int64) int {
		return cmp.Or(cmp.Compare(l1, l2), cmp.Compare(t1, t2), cmp.Compare(id1, id2))
	}
	for _, s := range [][]attempt{tl.Acquires, tl.Extends, tl.Releases} {
		slices.SortFunc(s, func(a, b attempt) int { return byLane(a.Lane, b.Lane, a.T0, b.T0, a.ID, b.ID) })
	}
	slices.SortFunc(tl.CS, func(a, b section) int { return byLane(a.Lane, b.Lane, a.T0, b.T0, a.ID, b.ID) })
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// interner numbers strings in order of first use; the empty string is -1.
type interner struct {
	list *[]string
	m    map[string]int
}

func newInterner(list *[]string) *interner { return &interner{list: list, m: map[string]int{}} }

func (in *interner) index(s string) int {
	if s == "" {
		return -1
	}
	if i, ok := in.m[s]; ok {
		return i
	}
	i := len(*in.list)
	*in.list = append(*in.list, s)
	in.m[s] = i
	return i
}

// laneStarts gives, for items sorted by lane, where each lane's items begin: lane l is [s[l], s[l+1]).
func laneStarts[T any](items []T, lane func(*T) int, lanes int) []int {
	s := make([]int, lanes+1)
	i := 0
	for l := 0; l <= lanes; l++ {
		for i < len(items) && lane(&items[i]) < l {
			i++
		}
		s[l] = i
	}
	return s
}
