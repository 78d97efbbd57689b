package checker

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/redlock-harness/redlock-harness/history"
)

// synthConfig describes a synthetic history: workers taking turns on keys, six events a cycle (acquire, critical
// section, release), with violations and indeterminate sections planted at known places.
type synthConfig struct {
	Workers int
	Keys    int
	// Cycles is the number of lock cycles over all keys.
	Cycles int
	Seed   uint64
	// OverlapEvery plants a granted-twice overlap every n cycles of a key (0: never).
	OverlapEvery int
	// StaleEvery plants a lost update without overlap (a section reads the value before the previous write)
	// every n cycles of a key (0: never).
	StaleEvery int
	// InfoEvery makes every n-th section of a key indeterminate (info), half of them having written (0: never).
	InfoEvery int
	// FaultEvery injects a fault every n cycles of the history, healed n/2 cycles later (0: never).
	FaultEvery int
}

// synthResult says what was planted.
type synthResult struct {
	h        *history.History
	overlaps int
	stale    int
	written  int
}

// synthetic builds a history in memory. Keys advance in turn, so events of different keys interleave in time, and
// the events are left in generation order (not sorted by time across keys), as a concurrent writer may leave them.
func synthetic(cfg synthConfig) synthResult {
	if cfg.Workers <= 0 {
		cfg.Workers = 24
	}
	if cfg.Keys <= 0 {
		cfg.Keys = 1
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 99))
	workers := make([]string, cfg.Workers)
	for i := range workers {
		workers[i] = fmt.Sprintf("g%dw%d", i%3+1, i/3+1)
	}
	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	const ms = int64(1_000_000)
	type keyState struct {
		t     int64 // next free instant
		val   int64
		fence int64
		n     int
	}
	ks := make([]keyState, cfg.Keys)
	for i := range ks {
		ks[i].t = int64(i) * 7 * 1000 // distinct start offsets, in ns
	}
	evs := make([]history.Event, 0, cfg.Cycles*6+cfg.Cycles/max(cfg.FaultEvery, 1)*2+16)
	var id int64
	next := func() int64 { id++; return id }
	res := synthResult{}
	ttl := int64(1000) * ms
	openFault := false
	faultT := int64(0)
	for c := 0; c < cfg.Cycles; c++ {
		k := c % cfg.Keys
		s := &ks[k]
		s.n++
		w := workers[rng.IntN(len(workers))]
		key := keys[k]
		t := s.t
		if cfg.FaultEvery > 0 && c%cfg.FaultEvery == 0 && !openFault {
			evs = append(evs, history.Event{T: t, Ev: history.EvFault, Name: "partition", Phase: history.PhaseInject, Targets: []string{"g1->n1"}})
			openFault, faultT = true, t
		} else if openFault && cfg.FaultEvery > 0 && c%cfg.FaultEvery == cfg.FaultEvery/2 && t > faultT {
			evs = append(evs, history.Event{T: t, Ev: history.EvFault, Name: "partition", Phase: history.PhaseHeal, Targets: []string{"g1->n1"}})
			openFault = false
		}
		lat := int64(200_000 + rng.IntN(800_000))
		hold := int64(1_000_000 + rng.IntN(2_000_000))
		s.fence++
		aid := next()
		evs = append(evs,
			history.Event{T: t, Ev: history.EvInvoke, ID: aid, Op: history.OpAcquire, Worker: w, Key: key},
			history.Event{T: t + lat, Ev: history.EvOK, ID: aid, Op: history.OpAcquire, Worker: w, Key: key, Fence: s.fence, ValidNS: history.Int(ttl)})
		read := t + lat + 10_000
		write := read + hold
		cid := next()
		v := s.val
		floor := v // the value the resource holds at least after this cycle
		planted := false
		switch {
		case cfg.OverlapEvery > 0 && s.n%cfg.OverlapEvery == 0:
			// Another worker was granted the same lock and reads before this one writes.
			w2 := workers[(rng.IntN(len(workers)-1)+1+indexOf(workers, w))%len(workers)]
			oid, cid2 := next(), next()
			r2 := read + hold/2
			evs = append(evs,
				history.Event{T: read - 5000, Ev: history.EvInvoke, ID: oid, Op: history.OpAcquire, Worker: w2, Key: key},
				history.Event{T: read - 1000, Ev: history.EvOK, ID: oid, Op: history.OpAcquire, Worker: w2, Key: key, Fence: s.fence, ValidNS: history.Int(ttl)},
				history.Event{T: r2, Ev: history.EvInvoke, ID: cid2, Op: history.OpCS, Worker: w2, Key: key, ValidNS: history.Int(ttl - hold)},
				history.Event{T: write + 1000, Ev: history.EvOK, ID: cid2, Op: history.OpCS, Read: history.Int(v), Wrote: history.Int(v + 1), ValidNS: history.Int(ttl - 2*hold)})
			res.overlaps++
			res.written++
			floor = v + 1
			planted = true
		case cfg.StaleEvery > 0 && s.n%cfg.StaleEvery == 0 && v > 0:
			// This section reads the value from before the previous write: a lost update with no overlap.
			v--
			res.stale++
			planted = true
		}
		evs = append(evs, history.Event{T: read, Ev: history.EvInvoke, ID: cid, Op: history.OpCS, Worker: w, Key: key, Fence: s.fence, ValidNS: history.Int(ttl - lat)})
		switch {
		case cfg.InfoEvery > 0 && s.n%cfg.InfoEvery == 0 && !planted:
			evs = append(evs, history.Event{T: write, Ev: history.EvInfo, ID: cid, Op: history.OpCS, Read: history.Int(v), Reason: "client-crash"})
			if rng.IntN(2) == 0 {
				v++ // it did write, unrecorded
			}
		default:
			evs = append(evs, history.Event{T: write, Ev: history.EvOK, ID: cid, Op: history.OpCS, Read: history.Int(v), Wrote: history.Int(v + 1), Fence: s.fence, ValidNS: history.Int(ttl - lat - hold)})
			v++
			res.written++
		}
		s.val = max(v, floor)
		rid := next()
		evs = append(evs,
			history.Event{T: write + 20_000, Ev: history.EvInvoke, ID: rid, Op: history.OpRelease, Worker: w, Key: key},
			history.Event{T: write + 120_000, Ev: history.EvOK, ID: rid, Op: history.OpRelease, Worker: w, Key: key})
		s.t = write + 200_000 + int64(rng.IntN(100_000))
	}
	res.h = &history.History{Header: history.Header{Version: 1, Scenario: "synthetic", Strategy: "synthetic", MinCriticalSections: 20}, Events: evs}
	return res
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return 0
}

// physicalConfig describes a history produced by replaying critical sections against a real counter, so that it
// is exactly what the resource would have recorded.
type physicalConfig struct {
	Seed     uint64
	Sections int
	Keys     int
	// OverlapProb is the chance that a writing section starts inside the previous writer's section (a violation).
	OverlapProb float64
	// Ties makes many reads happen at the very instant of the previous write.
	Ties bool
}

// physical builds a history by planning critical sections per key (writers one after another unless a violation
// is planted, non-writers anywhere), then replaying every read and write in time order on a counter per key.
// Outcomes: ok (wrote), fail (did not write), info or no completion (wrote or not, unrecorded).
func physical(cfg physicalConfig) (h *history.History, overlaps int) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	keys := max(cfg.Keys, 1)
	type sec struct {
		id          int64
		worker, key string
		start, end  int64
		writes      bool
		ev          string // ok, fail, info, "" (none)
		read        int64
	}
	var secs []*sec
	cursor := make([]int64, keys)
	lastWriter := make([]*sec, keys)
	var id int64
	for i := 0; i < cfg.Sections; i++ {
		k := rng.IntN(keys)
		s := &sec{worker: fmt.Sprintf("w%d", rng.IntN(6)), key: fmt.Sprintf("k%d", k)}
		id += 2
		s.id = id
		hold := int64(1 + rng.IntN(20))
		switch x := rng.IntN(100); {
		case x < 70:
			s.writes, s.ev = true, history.EvOK
		case x < 82:
			s.ev = history.EvFail
		case x < 88:
			s.writes, s.ev = rng.IntN(2) == 0, history.EvInfo
		case x < 91:
			s.writes, s.ev = rng.IntN(2) == 0, ""
		default:
			s.ev = history.EvFail
		}
		if s.writes {
			gap := int64(1 + rng.IntN(5))
			if cfg.Ties && rng.IntN(2) == 0 {
				gap = 0
			}
			s.start = cursor[k] + gap
			if p := lastWriter[k]; p != nil && rng.Float64() < cfg.OverlapProb {
				s.start = p.start + 1 + rng.Int64N(max(p.end-p.start, 1))
				if s.start < p.end {
					overlaps++
				}
			}
			s.end = s.start + hold
			cursor[k] = max(cursor[k], s.end)
			lastWriter[k] = s
		} else {
			s.start = max(cursor[k]-10+rng.Int64N(20), 0)
			s.end = s.start + hold
		}
		secs = append(secs, s)
	}
	// Replay: at one instant, writes land before reads.
	type action struct {
		t     int64
		write bool
		s     *sec
	}
	var acts []action
	for _, s := range secs {
		acts = append(acts, action{s.start, false, s})
		if s.writes {
			acts = append(acts, action{s.end, true, s})
		}
	}
	slices.SortStableFunc(acts, func(a, b action) int {
		if a.t != b.t {
			return cmpInt(a.t, b.t)
		}
		if a.write != b.write {
			if a.write {
				return -1
			}
			return 1
		}
		return 0
	})
	val := map[string]int64{}
	for _, a := range acts {
		if a.write {
			val[a.s.key] = a.s.read + 1
		} else {
			a.s.read = val[a.s.key]
		}
	}
	var evs []history.Event
	for _, s := range secs {
		evs = append(evs, history.Event{T: s.start, Ev: history.EvInvoke, ID: s.id, Op: history.OpCS, Worker: s.worker, Key: s.key, ValidNS: history.Int(100)})
		switch s.ev {
		case history.EvOK:
			evs = append(evs, history.Event{T: s.end, Ev: history.EvOK, ID: s.id, Op: history.OpCS, Read: history.Int(s.read), Wrote: history.Int(s.read + 1), ValidNS: history.Int(50)})
		case history.EvFail:
			evs = append(evs, history.Event{T: s.end, Ev: history.EvFail, ID: s.id, Op: history.OpCS, Read: history.Int(s.read), Reason: history.ReasonLeaseExpired})
		case history.EvInfo:
			evs = append(evs, history.Event{T: s.end, Ev: history.EvInfo, ID: s.id, Op: history.OpCS, Read: history.Int(s.read), Reason: "client-crash"})
		}
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return &history.History{Header: history.Header{Version: 1, MinCriticalSections: 1}, Events: evs}, overlaps
}
