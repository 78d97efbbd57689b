package report

import (
	"cmp"
	"slices"

	"github.com/redlock-harness/redlock-harness/history"
)

// buildTimeline turns a history into what the page draws: operations paired and placed on their worker's lane,
// leases reconstructed, fault windows built, the violations located.
func buildTimeline(h *history.History, viols []Violation) *timeline {
	tl := &timeline{Lanes: []string{}, Keys: []string{}, Texts: []string{}, Acquires: []attempt{}, Extends: []attempt{},
		Releases: []attempt{}, Leases: []lease{}, CS: []section{}, Faults: []fault{}, Marks: []mark{}}
	if h == nil {
		tl.Marks = buildMarks(tl, viols)
		return tl
	}
	ops, faultEvs, end, orphans := pairOps(h.Events)
	tl.End = end

	var names []string
	seen := map[string]bool{}
	for i := range ops {
		if w := ops[i].worker; w != "" && !seen[w] {
			seen[w] = true
			names = append(names, w)
		}
	}
	tl.Lanes = laneOrder(names)
	lanes := make(map[string]int, len(tl.Lanes))
	for i, w := range tl.Lanes {
		lanes[w] = i
	}
	keys := newInterner(&tl.Keys)
	texts := newInterner(&tl.Texts)

	counts := map[string]int{}
	for i := range ops {
		counts[ops[i].name]++
	}
	tl.Acquires = make([]attempt, 0, counts[history.OpAcquire])
	tl.Extends = make([]attempt, 0, counts[history.OpExtend])
	tl.Releases = make([]attempt, 0, counts[history.OpRelease])
	tl.CS = make([]section, 0, counts[history.OpCS])
	noWorker, unknown := 0, 0
	for i := range ops {
		o := &ops[i]
		lane, ok := lanes[o.worker]
		if !ok {
			noWorker++
			continue
		}
		switch o.name {
		case history.OpAcquire, history.OpExtend, history.OpRelease:
			a := attempt{Lane: lane, Key: keys.index(o.key), ID: o.id, T0: o.t0, T1: o.t1, Out: o.out, Fence: o.fence,
				Err: texts.index(firstOf(o.errTxt, o.reason))}
			if o.out == outOK && o.hasValid1 {
				a.Valid, a.HasValid = o.valid1, true
			}
			switch o.name {
			case history.OpAcquire:
				tl.Acquires = append(tl.Acquires, a)
			case history.OpExtend:
				tl.Extends = append(tl.Extends, a)
			default:
				tl.Releases = append(tl.Releases, a)
			}
		case history.OpCS:
			s := section{Lane: lane, Key: keys.index(o.key), ID: o.id, T0: o.t0, T1: o.t1, Out: o.out, Fence: o.fence,
				Reason: texts.index(firstOf(o.reason, o.errTxt)), Read: o.read, HasRead: o.hasRead, Wrote: o.wrote,
				HasWrote: o.hasWrote, ValidRead: o.valid0, HasValidRead: o.hasValid0, ValidWrite: o.valid1,
				HasValidWrite: o.hasValid1}
			tl.CS = append(tl.CS, s)
		default:
			unknown++
		}
	}
	byLane := func(l1, l2 int, t1, t2, id1, id2 int64) int {
		return cmp.Or(cmp.Compare(l1, l2), cmp.Compare(t1, t2), cmp.Compare(id1, id2))
	}
	for _, s := range [][]attempt{tl.Acquires, tl.Extends, tl.Releases} {
		slices.SortFunc(s, func(a, b attempt) int { return byLane(a.Lane, b.Lane, a.T0, b.T0, a.ID, b.ID) })
	}
	slices.SortFunc(tl.CS, func(a, b section) int { return byLane(a.Lane, b.Lane, a.T0, b.T0, a.ID, b.ID) })
	tl.Leases = buildLeases(tl)
	tl.Faults = faultWindows(faultEvs, end)
	tl.Marks = buildMarks(tl, viols)

	if orphans > 0 {
		tl.Notes = append(tl.Notes, plural(orphans, "completion")+" without an invocation (drawn where it completed)")
	}
	if noWorker > 0 {
		tl.Notes = append(tl.Notes, plural(noWorker, "operation")+" naming no worker (not drawn)")
	}
	if unknown > 0 {
		tl.Notes = append(tl.Notes, plural(unknown, "operation")+" of an unknown kind (not drawn)")
	}
	return tl
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
