package report

import (
	"cmp"
	"slices"
)

// leaseStep is one thing that changes what a holder believes about its lease.
type leaseStep struct {
	t     int64
	kind  int // stepAcquire, stepExtend, stepRelease
	lane  int
	key   int
	id    int64
	valid int64
	has   bool
	fence int64
}

const (
	stepAcquire = iota
	stepExtend
	stepRelease
)

// buildLeases reconstructs the leases held, per worker and key, from what the holders were told: a lease starts
// at an acquire's ok and is believed valid for the validity it granted; each extend ok pushes ValidUntil to its
// own instant plus the validity it granted; the holder gives it up when it invokes release. The bar ends at the
// earlier of the release and ValidUntil, so a lease that ran out before its holder let go shows as such.
func buildLeases(tl *timeline) []lease {
	steps := make([]leaseStep, 0, len(tl.Acquires)+len(tl.Extends)+len(tl.Releases))
	for _, a := range tl.Acquires {
		if a.Out == outOK {
			steps = append(steps, leaseStep{t: a.T1, kind: stepAcquire, lane: a.Lane, key: a.Key, id: a.ID, valid: a.Valid, has: a.HasValid, fence: a.Fence})
		}
	}
	for _, a := range tl.Extends {
		if a.Out == outOK {
			steps = append(steps, leaseStep{t: a.T1, kind: stepExtend, lane: a.Lane, key: a.Key, id: a.ID, valid: a.Valid, has: a.HasValid})
		}
	}
	for _, a := range tl.Releases {
		steps = append(steps, leaseStep{t: a.T0, kind: stepRelease, lane: a.Lane, key: a.Key, id: a.ID})
	}
	slices.SortFunc(steps, func(a, b leaseStep) int {
		return cmp.Or(cmp.Compare(a.lane, b.lane), cmp.Compare(a.t, b.t), cmp.Compare(a.kind, b.kind), cmp.Compare(a.id, b.id))
	})

	out := make([]lease, 0, len(tl.Acquires))
	type holder struct{ lane, key int }
	open := map[holder]int{} // index into out
	closeAt := func(i int, t int64, by int) {
		l := &out[i]
		if l.HasValid && l.ValidUntil <= t {
			l.T1, l.EndBy = max(l.ValidUntil, l.T0), endExpired
			return
		}
		l.T1, l.EndBy = t, by
	}
	for _, s := range steps {
		h := holder{s.lane, s.key}
		i, held := open[h]
		switch s.kind {
		case stepAcquire:
			if held {
				closeAt(i, s.t, endSuperseded)
			}
			l := lease{Lane: s.lane, Key: s.key, ID: s.id, T0: s.t, Fence: s.fence}
			if s.has {
				l.ValidUntil, l.HasValid = s.t+s.valid, true
			}
			out = append(out, l)
			open[h] = len(out) - 1
		case stepExtend:
			if !held {
				continue
			}
			l := &out[i]
			if l.HasValid && l.ValidUntil < s.t {
				// Extended after it had run out: the gap is real, so the lease shows as two.
				closeAt(i, s.t, endExpired)
				n := lease{Lane: l.Lane, Key: l.Key, ID: l.ID, T0: s.t, Fence: l.Fence}
				out = append(out, n)
				i = len(out) - 1
				open[h] = i
				l = &out[i]
			}
			l.Extends++
			if s.has {
				l.ValidUntil, l.HasValid = s.t+s.valid, true
			}
		case stepRelease:
			if !held {
				continue
			}
			out[i].Release, out[i].HasRelease = s.t, true
			closeAt(i, s.t, endReleased)
			delete(open, h)
		}
	}
	for _, i := range open {
		l := &out[i]
		if l.HasValid {
			l.T1, l.EndBy = max(l.ValidUntil, l.T0), endExpired
			if l.ValidUntil > tl.End {
				l.EndBy = endOpen
			}
			continue
		}
		l.T1, l.EndBy = max(tl.End, l.T0), endOpen
	}
	slices.SortFunc(out, func(a, b lease) int {
		return cmp.Or(cmp.Compare(a.Lane, b.Lane), cmp.Compare(a.T0, b.T0), cmp.Compare(a.ID, b.ID))
	})
	return out
}
