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
	b := leaseBook{out: make([]lease, 0, len(tl.Acquires)), open: map[holder]int{}}
	for _, s := range leaseSteps(tl) {
		switch s.kind {
		case stepAcquire:
			b.acquire(s)
		case stepExtend:
			b.extend(s)
		case stepRelease:
			b.release(s)
		}
	}
	b.closeOpen(tl.End)
	slices.SortFunc(b.out, func(a, b lease) int {
		return cmp.Or(cmp.Compare(a.Lane, b.Lane), cmp.Compare(a.T0, b.T0), cmp.Compare(a.ID, b.ID))
	})
	return b.out
}

// leaseSteps are the acquires and extends that succeeded and every release, in the order their holders lived
// them: by lane, then time (an acquire before an extend before a release at one instant), then id.
func leaseSteps(tl *timeline) []leaseStep {
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
	return steps
}

// holder is a worker's lane and a key: who holds which lease.
type holder struct{ lane, key int }

// leaseBook is the leases reconstructed so far and which of them each holder still holds.
type leaseBook struct {
	out  []lease
	open map[holder]int // index into out
}

// acquire opens a lease, superseding the one its holder had not released.
func (b *leaseBook) acquire(s leaseStep) {
	h := holder{s.lane, s.key}
	if i, held := b.open[h]; held {
		b.closeAt(i, s.t, endSuperseded)
	}
	l := lease{Lane: s.lane, Key: s.key, ID: s.id, T0: s.t, Fence: s.fence}
	if s.has {
		l.ValidUntil, l.HasValid = s.t+s.valid, true
	}
	b.out = append(b.out, l)
	b.open[h] = len(b.out) - 1
}

// extend pushes the held lease's ValidUntil on. Extended after it had run out, the gap is real, so the lease
// shows as two.
func (b *leaseBook) extend(s leaseStep) {
	h := holder{s.lane, s.key}
	i, held := b.open[h]
	if !held {
		return
	}
	l := &b.out[i]
	if l.HasValid && l.ValidUntil < s.t {
		b.closeAt(i, s.t, endExpired)
		b.out = append(b.out, lease{Lane: l.Lane, Key: l.Key, ID: l.ID, T0: s.t, Fence: l.Fence})
		i = len(b.out) - 1
		b.open[h] = i
		l = &b.out[i]
	}
	l.Extends++
	if s.has {
		l.ValidUntil, l.HasValid = s.t+s.valid, true
	}
}

// release ends the held lease where its holder let it go, or where it had already run out.
func (b *leaseBook) release(s leaseStep) {
	h := holder{s.lane, s.key}
	i, held := b.open[h]
	if !held {
		return
	}
	b.out[i].Release, b.out[i].HasRelease = s.t, true
	b.closeAt(i, s.t, endReleased)
	delete(b.open, h)
}

// closeAt ends lease i at t for the reason by, or at its ValidUntil when that came first.
func (b *leaseBook) closeAt(i int, t int64, by int) {
	l := &b.out[i]
	if l.HasValid && l.ValidUntil <= t {
		l.T1, l.EndBy = max(l.ValidUntil, l.T0), endExpired
		return
	}
	l.T1, l.EndBy = t, by
}

// closeOpen ends the leases still held when the history ends: at their ValidUntil, or at the end of the run when
// it is unknown or later.
func (b *leaseBook) closeOpen(end int64) {
	for _, i := range b.open {
		l := &b.out[i]
		if l.HasValid {
			l.T1, l.EndBy = max(l.ValidUntil, l.T0), endExpired
			if l.ValidUntil > end {
				l.EndBy = endOpen
			}
			continue
		}
		l.T1, l.EndBy = max(end, l.T0), endOpen
	}
}
