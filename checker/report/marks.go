package report

import "sort"

// buildMarks places each violation's sections on the timeline: the lane of its worker and the section of the
// history it names, found by id when given, else by the instant of its read.
func buildMarks(tl *timeline, viols []Violation) []mark {
	lanes := make(map[string]int, len(tl.Lanes))
	for i, w := range tl.Lanes {
		lanes[w] = i
	}
	starts := laneStarts(tl.CS, func(s *section) int { return s.Lane }, len(tl.Lanes))
	out := make([]mark, 0, len(viols))
	for i, v := range viols {
		m := mark{N: i + 1, Key: v.Key, Cause: v.Cause, Parts: []markEnd{}}
		parts := []Interval{v.A}
		if !v.B.isZero() {
			parts = append(parts, v.B)
		}
		for _, p := range parts {
			e := markEnd{Worker: p.Worker, Lane: -1, T0: p.ReadT, T1: max(p.WriteT, p.ReadT), CS: -1}
			if l, ok := lanes[p.Worker]; ok {
				e.Lane = l
				e.CS = findSection(tl.CS[starts[l]:starts[l+1]], p)
				if e.CS >= 0 {
					e.CS += starts[l]
				}
			}
			m.Parts = append(m.Parts, e)
		}
		m.From, m.To = m.Parts[0].T0, m.Parts[0].T1
		for _, e := range m.Parts[1:] {
			m.From, m.To = max(m.From, e.T0), min(m.To, e.T1)
		}
		out = append(out, m)
	}
	return out
}

func (iv Interval) isZero() bool { return iv == Interval{} }

// findSection finds p among one lane's sections (sorted by read): by id when p has one, else the section that
// read at p.ReadT (the one that also wrote at p.WriteT when several did).
func findSection(cs []section, p Interval) int {
	if p.ID != 0 {
		for i := range cs {
			if cs[i].ID == p.ID {
				return i
			}
		}
	}
	i := sort.Search(len(cs), func(i int) bool { return cs[i].T0 >= p.ReadT })
	found := -1
	for ; i < len(cs) && cs[i].T0 == p.ReadT; i++ {
		if found < 0 || cs[i].T1 == p.WriteT {
			found = i
		}
	}
	return found
}

// buildStuck numbers the stuck keys for the timeline, each span kept inside the run.
func buildStuck(spans []StuckSpan, end int64) []stuckMark {
	var out []stuckMark
	for i, s := range spans {
		from := min(max(s.From, 0), end)
		out = append(out, stuckMark{N: i + 1, Key: s.Key, From: from, To: min(max(s.To, from), end),
			FaultFree: s.FaultFree, Attempts: s.Attempts, Last: s.Last})
	}
	return out
}
