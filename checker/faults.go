package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// FaultWindow is the span during which one injected fault was in force: from its inject event to its heal event.
// Violations are reported with the faults active when they happened, and liveness is split inside and outside
// these windows, because "what broke under which fault" is the question the harness exists to answer.
type FaultWindow struct {
	Name    string   `json:"name"`
	Targets []string `json:"targets,omitempty"`
	// Note is what the fault said of itself when injected (e.g. that the servers give up on silent connections).
	Note string        `json:"note,omitempty"`
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"`
	// Healed is false when the history has no heal for this fault (a crash, or a fault meant to last): To is then
	// the end of the history.
	Healed bool `json:"healed"`
}

// faultWindows pairs each heal with the earliest open inject of the same fault (same name and targets, else the
// same name). Events need not be sorted.
func faultWindows(evs []history.Event, end int64, notes *[]string) []FaultWindow {
	slices.SortStableFunc(evs, func(a, b history.Event) int { return cmpInt(a.T, b.T) })
	var out []FaultWindow
	open := []int{} // indices into out, in inject order
	stray := 0
	for _, e := range evs {
		switch e.Phase {
		case history.PhaseInject:
			out = append(out, FaultWindow{Name: e.Name, Targets: e.Targets, Note: e.Note, From: time.Duration(e.T), To: time.Duration(end)})
			open = append(open, len(out)-1)
		case history.PhaseHeal:
			match := -1
			for k, i := range open {
				if out[i].Name == e.Name && slices.Equal(out[i].Targets, e.Targets) {
					match = k
					break
				}
			}
			if match < 0 {
				for k, i := range open {
					if out[i].Name == e.Name {
						match = k
						break
					}
				}
			}
			if match < 0 {
				stray++
				continue
			}
			w := &out[open[match]]
			w.To, w.Healed = time.Duration(e.T), true
			open = slices.Delete(open, match, match+1)
		case history.PhaseFire:
			// A failpoint going off inside its fault's window: part of that window, not a window of its own.
		default:
			stray++
		}
	}
	if stray > 0 {
		*notes = append(*notes, plural(stray, "fault event", "fault events")+" without a matching inject, ignored")
	}
	return out
}

// activeFaults names the faults in force at some instant of [from, to], each name once, in order of injection.
func activeFaults(ws []FaultWindow, from, to time.Duration) []string {
	names := []string{}
	for _, w := range ws {
		if w.From <= to && w.To >= from && !slices.Contains(names, w.Name) {
			names = append(names, w.Name)
		}
	}
	return names
}

// faultUnion is the union of the fault windows as sorted, disjoint intervals: the time "inside faults".
type faultUnion [][2]int64

func unionOf(ws []FaultWindow) faultUnion {
	iv := make([][2]int64, 0, len(ws))
	for _, w := range ws {
		iv = append(iv, [2]int64{int64(w.From), int64(w.To)})
	}
	slices.SortFunc(iv, func(a, b [2]int64) int { return cmpInt(a[0], b[0]) })
	var u faultUnion
	for _, x := range iv {
		if n := len(u); n > 0 && x[0] <= u[n-1][1] {
			u[n-1][1] = max(u[n-1][1], x[1])
			continue
		}
		u = append(u, x)
	}
	return u
}

// contains says whether t lies inside some fault window.
func (u faultUnion) contains(t int64) bool {
	i := sort.Search(len(u), func(i int) bool { return u[i][1] >= t })
	return i < len(u) && u[i][0] <= t
}

// within is the length of the union clipped to [from, to].
func (u faultUnion) within(from, to int64) int64 {
	var d int64
	for _, x := range u {
		a, b := max(x[0], from), min(x[1], to)
		if b > a {
			d += b - a
		}
	}
	return d
}

func faultList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// cutStory tells a granted-twice pair whose first holder's client group was cut off from some node by a fault in
// force between its read and the overlap's end: the servers let the second holder in while the first, cut off,
// still believed in its lock. It returns "" when no such cut was in force.
func cutStory(ws []FaultWindow, ov Overlap) string {
	group, _, ok := strings.Cut(ov.First.Worker, "w")
	if !ok {
		return ""
	}
	for _, w := range ws {
		if w.From > ov.To || w.To < ov.First.ReadAt {
			continue
		}
		var cut []string
		for _, t := range w.Targets {
			if g, n, ok := strings.Cut(t, "->"); ok && g == group {
				cut = append(cut, n)
			}
		}
		if len(cut) == 0 {
			continue
		}
		how := w.Name
		if w.Note != "" {
			how += ": " + w.Note
		}
		return fmt.Sprintf("%s's group was cut from %s at %s (%s); the servers let %s take the lock at %s while %s still believed in its own",
			ov.First.Worker, strings.Join(cut, ","), fmtDur(w.From), how, ov.Second.Worker, fmtDur(ov.From), ov.First.Worker)
	}
	return ""
}
