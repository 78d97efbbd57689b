package report

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/redlock-harness/redlock-harness/history"
)

// synthRun is a generated run for the tests that need a realistic page (the browser test, the screenshot, the
// benchmark): workers taking a lock in turn on one key, contention, extensions, faults, and optionally two
// planted violations (a holder stalled past its lease; a lock granted twice under a partition).
type synthRun struct {
	Groups, Workers int
	// Ops is the number of operations (invocations) to generate, at least.
	Ops        int
	Violations bool
	Seed       uint64
}

const ms = int64(1_000_000)

type synth struct {
	rng     *rand.Rand
	evs     []history.Event
	id      int64
	ops     int
	counter int64
	names   []string
}

func (s *synth) invoke(t int64, op, worker string, e history.Event) int64 {
	s.id++
	s.ops++
	e.T, e.Ev, e.ID, e.Op, e.Worker, e.Key = t, history.EvInvoke, s.id, op, worker, "k0"
	s.evs = append(s.evs, e)
	return s.id
}

func (s *synth) complete(t int64, id int64, ev, op string, e history.Event) {
	e.T, e.Ev, e.ID, e.Op = t, ev, id, op
	s.evs = append(s.evs, e)
}

func (s *synth) fault(t int64, name, phase string, targets ...string) {
	s.evs = append(s.evs, history.Event{T: t, Ev: history.EvFault, Name: name, Phase: phase, Targets: targets})
}

func (s *synth) between(lo, hi int64) int64 { return lo + s.rng.Int64N(hi-lo+1) }

// cycle is one worker's acquire, critical section (extending while it works) and release, with other workers
// failing to acquire meanwhile. It returns when the release completed.
func (s *synth) cycle(t int64, w string, ttl int64, partitioned bool) int64 {
	lat := s.between(ms/2, 3*ms)
	if partitioned {
		lat += s.between(5*ms, 20*ms)
	}
	acq := s.invoke(t, history.OpAcquire, w, history.Event{})
	fence := s.id
	s.complete(t+lat, acq, history.EvOK, history.OpAcquire, history.Event{Fence: fence, ValidNS: history.Int(ttl - lat)})
	until := t + ttl
	read := t + lat + ms/4
	hold := s.between(4*ms, 40*ms)
	cs := s.invoke(read, history.OpCS, w, history.Event{ValidNS: history.Int(until - read), Read: nil})
	for e := read + ttl/3; e < read+hold; e += ttl / 3 {
		x := s.invoke(e, history.OpExtend, w, history.Event{})
		s.complete(e+ms, x, history.EvOK, history.OpExtend, history.Event{ValidNS: history.Int(ttl - ms)})
		until = e + ttl
	}
	write := read + hold
	for range s.rng.IntN(3) {
		o := s.names[s.rng.IntN(len(s.names))]
		if o == w {
			continue
		}
		at := s.between(t, write)
		a := s.invoke(at, history.OpAcquire, o, history.Event{})
		if partitioned && s.rng.IntN(2) == 0 {
			s.complete(at+s.between(20*ms, 60*ms), a, history.EvInfo, history.OpAcquire, history.Event{Error: "i/o timeout"})
		} else {
			s.complete(at+s.between(ms, 4*ms), a, history.EvFail, history.OpAcquire, history.Event{Error: "lock held by another client"})
		}
	}
	if s.rng.IntN(25) == 0 {
		// A careful client that found its lease too short to finish abandons the write.
		s.complete(write, cs, history.EvFail, history.OpCS, history.Event{Read: history.Int(s.counter), Reason: history.ReasonLeaseExpired,
			ValidNS: history.Int(-s.between(ms, 5*ms))})
	} else {
		s.complete(write, cs, history.EvOK, history.OpCS, history.Event{Read: history.Int(s.counter), Wrote: history.Int(s.counter + 1),
			Fence: fence, ValidNS: history.Int(until - write)})
		s.counter++
	}
	rel := s.invoke(write+ms/5, history.OpRelease, w, history.Event{})
	end := write + ms/5 + s.between(ms/2, 2*ms)
	s.complete(end, rel, history.EvOK, history.OpRelease, history.Event{})
	return end
}

// Generate builds the run and the violations planted in it.
func (c synthRun) Generate() (*history.History, []Violation) {
	s := &synth{rng: rand.New(rand.NewPCG(c.Seed, 0x5eed))}
	for g := 1; g <= c.Groups; g++ {
		for w := 1; w <= c.Workers; w++ {
			s.names = append(s.names, fmt.Sprintf("g%dw%d", g, w))
		}
	}
	const ttl = 200 * ms
	var viols []Violation
	t := 20 * ms
	plantedStall, plantedTwice := !c.Violations, !c.Violations
	cycles := 0
	var partitionUntil int64
	for s.ops < c.Ops {
		cycles++
		// A partition of group 2 every 40 cycles, for 12 of them.
		if cycles%40 == 10 {
			s.fault(t, "partition", history.PhaseInject, "g2->n1", "g2->n2", "g2->n3")
			partitionUntil = -1
		}
		if cycles%40 == 22 && partitionUntil == -1 {
			s.fault(t, "partition", history.PhaseHeal, "g2->n1", "g2->n2", "g2->n3")
			partitionUntil = 0
		}
		partitioned := partitionUntil == -1
		w := s.names[s.rng.IntN(len(s.names))]
		switch {
		case !plantedStall && cycles == 6:
			plantedStall = true
			t, viols = s.stall(t, ttl, viols)
		case !plantedTwice && partitioned && cycles%40 == 16:
			plantedTwice = true
			t, viols = s.grantedTwice(t, ttl, viols)
		default:
			t = s.cycle(t, w, ttl, partitioned) + s.between(ms/5, 3*ms)
		}
	}
	if partitionUntil == -1 {
		s.fault(t, "partition", history.PhaseHeal, "g2->n1", "g2->n2", "g2->n3")
	}
	slices.SortStableFunc(s.evs, func(a, b history.Event) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	h := &history.History{Header: history.Header{Version: 1, Scenario: "client-stall+partition", Strategy: "redlock-naive",
		Seed: int64(c.Seed), Started: "2025-01-01T00:00:00Z", MinCriticalSections: 20}, Events: s.evs}
	return h, viols
}

// stall plants a lease-outlived pair: the first holder freezes inside its critical section past its lease, the
// lock (rightly) goes to another worker, and the frozen one writes late over the other's increment.
func (s *synth) stall(t, ttl int64, viols []Violation) (int64, []Violation) {
	a, b := s.names[0], s.names[len(s.names)-1]
	acq := s.invoke(t, history.OpAcquire, a, history.Event{})
	fa := s.id
	s.complete(t+ms, acq, history.EvOK, history.OpAcquire, history.Event{Fence: fa, ValidNS: history.Int(ttl - ms)})
	ra := t + 2*ms
	csA := s.invoke(ra, history.OpCS, a, history.Event{ValidNS: history.Int(ttl - 2*ms)})
	s.fault(ra+ms, "client-stall", history.PhaseInject, a)
	read := s.counter
	tb := t + ttl + 5*ms
	acqB := s.invoke(tb, history.OpAcquire, b, history.Event{})
	fb := s.id
	s.complete(tb+2*ms, acqB, history.EvOK, history.OpAcquire, history.Event{Fence: fb, ValidNS: history.Int(ttl - 2*ms)})
	rb := tb + 3*ms
	csB := s.invoke(rb, history.OpCS, b, history.Event{ValidNS: history.Int(ttl - 3*ms)})
	wb := rb + 30*ms
	s.complete(wb, csB, history.EvOK, history.OpCS, history.Event{Read: history.Int(read), Wrote: history.Int(read + 1), Fence: fb, ValidNS: history.Int(tb + ttl - wb)})
	relB := s.invoke(wb+ms, history.OpRelease, b, history.Event{})
	s.complete(wb+2*ms, relB, history.EvOK, history.OpRelease, history.Event{})
	wa := wb + 40*ms
	s.fault(wa, "client-stall", history.PhaseHeal, a)
	s.complete(wa, csA, history.EvOK, history.OpCS, history.Event{Read: history.Int(read), Wrote: history.Int(read + 1), Fence: fa, ValidNS: history.Int(t + ttl - wa)})
	relA := s.invoke(wa+ms, history.OpRelease, a, history.Event{})
	s.complete(wa+2*ms, relA, history.EvFail, history.OpRelease, history.Event{Error: "lock not held"})
	s.counter = read + 1
	viols = append(viols, Violation{Key: "k0", Cause: "lease-outlived", Faults: []string{"client-stall"},
		A: Interval{ID: csA, Worker: a, ReadT: ra, WriteT: wa, Read: read, Wrote: read + 1, Fence: fa},
		B: Interval{ID: csB, Worker: b, ReadT: rb, WriteT: wb, Read: read, Wrote: read + 1, Fence: fb}})
	return wa + 5*ms, viols
}

// grantedTwice plants a granted-twice pair under the partition: two workers both told they hold the lock.
func (s *synth) grantedTwice(t, ttl int64, viols []Violation) (int64, []Violation) {
	a, b := s.names[1], s.names[len(s.names)/2]
	acqA := s.invoke(t, history.OpAcquire, a, history.Event{})
	fa := s.id
	s.complete(t+8*ms, acqA, history.EvOK, history.OpAcquire, history.Event{Fence: fa, ValidNS: history.Int(ttl - 8*ms)})
	acqB := s.invoke(t+3*ms, history.OpAcquire, b, history.Event{})
	fb := s.id
	s.complete(t+12*ms, acqB, history.EvOK, history.OpAcquire, history.Event{Fence: fb, ValidNS: history.Int(ttl - 9*ms)})
	read := s.counter
	ra, rb := t+9*ms, t+13*ms
	csA := s.invoke(ra, history.OpCS, a, history.Event{ValidNS: history.Int(ttl - 9*ms)})
	csB := s.invoke(rb, history.OpCS, b, history.Event{ValidNS: history.Int(ttl - 10*ms)})
	wa, wb := ra+35*ms, rb+20*ms
	s.complete(wa, csA, history.EvOK, history.OpCS, history.Event{Read: history.Int(read), Wrote: history.Int(read + 1), Fence: fa, ValidNS: history.Int(t + ttl - wa)})
	s.complete(wb, csB, history.EvOK, history.OpCS, history.Event{Read: history.Int(read), Wrote: history.Int(read + 1), Fence: fb, ValidNS: history.Int(t + 3*ms + ttl - wb)})
	for _, x := range []struct {
		w  string
		at int64
	}{{a, wa}, {b, wb}} {
		r := s.invoke(x.at+ms, history.OpRelease, x.w, history.Event{})
		s.complete(x.at+2*ms, r, history.EvOK, history.OpRelease, history.Event{})
	}
	s.counter = read + 1
	viols = append(viols, Violation{Key: "k0", Cause: "granted-twice", Faults: []string{"partition"},
		A: Interval{ID: csA, Worker: a, ReadT: ra, WriteT: wa, Read: read, Wrote: read + 1, Fence: fa},
		B: Interval{ID: csB, Worker: b, ReadT: rb, WriteT: wb, Read: read, Wrote: read + 1, Fence: fb}})
	return max(wa, wb) + 4*ms, viols
}
