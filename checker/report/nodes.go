package report

import (
	"cmp"
	"slices"

	"github.com/redlock-harness/redlock-harness/history"
)

// lifecycle are the node events drawn as markers; commands and expiries are drawn through the holds they make.
var lifecycle = map[string]bool{history.NodeUp: true, history.NodeDown: true, history.NodeRestart: true,
	history.NodeMoved: true, history.NodeNote: true}

// buildNodeLanes adds the servers' side to the timeline: a lane per node with each key's holds, the renewals of
// them by other clients and the nodes' lifecycle, and on each violation's mark the pair's holds on the nodes its
// story names. Without a record it adds nothing, and the page says causes come from beliefs alone.
func buildNodeLanes(tl *timeline, rec *NodeRecord, viols []Violation) {
	if rec == nil {
		return
	}
	tl.NodeRecord = true
	var nodes, keys []string
	for _, t := range rec.Tenures {
		nodes, keys = append(nodes, t.Node), append(keys, t.Key)
	}
	for _, e := range rec.Events {
		if lifecycle[e.Ev] {
			nodes = append(nodes, e.Node)
		}
	}
	tl.Nodes, tl.NodeKeys = laneOrder(nodes), laneOrder(keys)
	nodeIx, keyIx := indexOf(tl.Nodes), indexOf(tl.NodeKeys)
	who, texts := newInterner(&tl.Who), seededInterner(&tl.Texts)

	type withForeign struct {
		h       hold
		foreign []Renewal
	}
	hs := make([]withForeign, 0, len(rec.Tenures))
	for _, t := range rec.Tenures {
		h := hold{Row: nodeIx[t.Node]*len(tl.NodeKeys) + keyIx[t.Key], Owner: who.index(t.Owner), T0: t.From, T1: t.To,
			End: texts.index(t.End), By: who.index(t.By)}
		if t.To == 0 {
			h.T1, h.End = max(tl.End, t.From), -1
		}
		h.T1 = max(h.T1, h.T0)
		hs = append(hs, withForeign{h, t.Foreign})
	}
	slices.SortStableFunc(hs, func(a, b withForeign) int {
		return cmp.Or(cmp.Compare(a.h.Row, b.h.Row), cmp.Compare(a.h.T0, b.h.T0), cmp.Compare(a.h.T1, b.h.T1))
	})
	tl.Holds = make([]hold, len(hs))
	for i, x := range hs {
		tl.Holds[i] = x.h
		for _, f := range x.foreign {
			tl.Renewals = append(tl.Renewals, renewal{Row: x.h.Row, T: f.At, By: who.index(f.By), Hold: i})
		}
	}
	slices.SortStableFunc(tl.Renewals, func(a, b renewal) int {
		return cmp.Or(cmp.Compare(a.Row, b.Row), cmp.Compare(a.T, b.T))
	})
	tl.NodeEvents, tl.NodeDown = nodeLifecycle(rec.Events, nodeIx, tl.End)
	for i := range tl.Marks {
		if i < len(viols) {
			tl.Marks[i].Holds = markHolds(tl, viols[i])
		}
	}
}

func indexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// seededInterner numbers new strings after those already in list, reusing their numbers.
func seededInterner(list *[]string) *interner {
	in := newInterner(list)
	for i, s := range *list {
		in.m[s] = i
	}
	return in
}

// nodeLifecycle keeps the lifecycle events, by node and time, and the stretches each node was down: from a down
// to the node's next up, restart or promotion of a replica in its place (or the end of the run).
func nodeLifecycle(evs []history.NodeEvent, nodeIx map[string]int, end int64) ([]nodeEvent, []nodeDown) {
	var out []nodeEvent
	for _, e := range evs {
		if lifecycle[e.Ev] {
			out = append(out, nodeEvent{Node: nodeIx[e.Node], T: e.T, Kind: e.Ev, Note: e.Note})
		}
	}
	slices.SortStableFunc(out, func(a, b nodeEvent) int { return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.T, b.T)) })
	var down []nodeDown
	open := -1 // index into down of the node's open stretch
	for i, e := range out {
		if i > 0 && out[i-1].Node != e.Node {
			open = -1
		}
		switch e.Kind {
		case history.NodeDown:
			if open < 0 {
				down = append(down, nodeDown{Node: e.Node, From: e.T, To: max(end, e.T)})
				open = len(down) - 1
			}
		case history.NodeUp, history.NodeRestart, history.NodeMoved:
			if open >= 0 {
				down[open].To, down[open].Healed = max(e.T, down[open].From), true
				open = -1
			}
		}
	}
	return out, down
}

// markHolds finds a violating pair's holds on the nodes its story happens on: each holder's latest hold of the key
// on the node that began by its read. The first holder's hold is marked lost when it ended before the second's
// began there (or, when the record missed the second's, before the second read): its end is how the lock changed
// hands.
func markHolds(tl *timeline, v Violation) []markHold {
	key := slices.Index(tl.NodeKeys, v.Key)
	if key < 0 || len(v.Nodes) == 0 {
		return nil
	}
	parts := []Interval{v.A}
	if !v.B.isZero() {
		parts = append(parts, v.B)
	}
	starts := laneStarts(tl.Holds, func(h *hold) int { return h.Row }, len(tl.Nodes)*len(tl.NodeKeys))
	var out []markHold
	for _, n := range laneOrder(v.Nodes) {
		node := slices.Index(tl.Nodes, n)
		if node < 0 {
			continue
		}
		row := node*len(tl.NodeKeys) + key
		found := make([]int, len(parts))
		for j, p := range parts {
			found[j] = -1
			owner := slices.Index(tl.Who, p.Worker)
			for i := starts[row]; i < starts[row+1] && tl.Holds[i].T0 <= p.ReadT; i++ {
				if tl.Holds[i].Owner == owner && owner >= 0 {
					found[j] = i
				}
			}
		}
		for j, i := range found {
			if i < 0 {
				continue
			}
			h := tl.Holds[i]
			lost := false
			if j == 0 && len(parts) > 1 && h.End >= 0 {
				taken := parts[1].ReadT
				if found[1] >= 0 {
					taken = tl.Holds[found[1]].T0
				}
				lost = h.T1 <= taken
			}
			out = append(out, markHold{Hold: i, Part: j, Lost: lost})
		}
	}
	return out
}
