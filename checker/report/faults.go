package report

import (
	"cmp"
	"slices"

	"github.com/redlock-harness/redlock-harness/history"
)

// faultWindows pairs each heal with the earliest open inject of the same fault (same name and targets, else the
// same name); a fault never healed lasts to the end of the run. Each window gets a row of the fault track so that
// windows that overlap in time get labels of their own.
func faultWindows(evs []history.Event, end int64) []fault {
	slices.SortStableFunc(evs, func(a, b history.Event) int { return cmp.Compare(a.T, b.T) })
	out := []fault{}
	var open []int
	for _, e := range evs {
		switch e.Phase {
		case history.PhaseInject:
			out = append(out, fault{Name: e.Name, Targets: e.Targets, From: e.T, To: end})
			open = append(open, len(out)-1)
		case history.PhaseHeal:
			match := slices.IndexFunc(open, func(i int) bool {
				return out[i].Name == e.Name && slices.Equal(out[i].Targets, e.Targets)
			})
			if match < 0 {
				match = slices.IndexFunc(open, func(i int) bool { return out[i].Name == e.Name })
			}
			if match < 0 {
				continue
			}
			w := &out[open[match]]
			w.To, w.Healed = max(e.T, w.From), true
			open = slices.Delete(open, match, match+1)
		}
	}
	var rowEnd []int64
	for i := range out {
		w := &out[i]
		w.Row = slices.IndexFunc(rowEnd, func(e int64) bool { return e < w.From })
		if w.Row < 0 {
			w.Row = len(rowEnd)
			rowEnd = append(rowEnd, 0)
		}
		rowEnd[w.Row] = w.To
	}
	return out
}
