package checker

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/redlock-harness/redlock-harness/history"
)

// How critical sections become porcupine operations.
//
// Under mutual exclusion a critical section is atomic: nothing touches the counter between its read and its
// write. So each section that wrote is one read-modify-write operation [read instant, write instant] that needs
// the counter to hold r and leaves r+1, and the history is linearizable exactly when no increment was lost.
// Both instants are stamped inside the resource's mutex, so the intervals are exact.
//
//   - a section that wrote (ok):        rmw, needs r, leaves the written value.
//   - a section that did not write (fail: lease expired or lost, fenced): a read of r at the read instant.
//   - a section whose write is unknown (info, or no completion: the worker crashed or the run stopped): a read of
//     r at the read instant, plus a "maybe-write" operation from the read instant to the end of time
//     (Return = MaxInt64) that leaves r+1 if the counter holds r and changes nothing otherwise.
//
// Why the maybe-write is sound (never makes a correct history illegal): porcupine must place every operation,
// but an operation that returns at the end of time may be placed after every other one, where its effect is seen
// by nobody, so "it never wrote" is always available. If it did write, under mutual exclusion it wrote r+1 while
// the counter still held r, which is what its step does. Its no-op branch when the counter holds another value
// only adds freedom. When the read value is unknown too (no completion), it is a "maybe-increment" (+1, or placed
// last). All steps are deterministic, so porcupine's ordinary Model suffices, without the power-set construction.
//
// Segments. Porcupine's search keeps a bitset of the linearized operations per cached state, so one key with 100k
// operations would need gigabytes. The per-key history is therefore cut at quiescent points where the counter's
// value is forced: every operation before the cut returned before any after it was called, and the last writer
// before the cut was called after every other writer before it returned, so every linearization of the prefix
// ends with that writer's value. The next segment starts with a synthetic "start" operation setting that value,
// followed by copies of the maybe-writes still able to fire (a maybe-write for r is dropped once the forced
// value exceeds r: under mutual exclusion the counter never decreases). Each segment is a porcupine partition,
// together with the per-key partitioning. Cutting loses nothing porcupine could prove on the whole key.

type regKind uint8

const (
	regRMW        regKind = iota // read r, wrote w, atomically
	regIncr                      // wrote, values unknown: +1
	regRead                      // read r, did not write
	regMaybeWrite                // may have written r+1 after reading r
	regMaybeIncr                 // may have incremented; the read value is unknown
	regStart                     // a segment's first operation: the counter's forced value
)

// regOp is the input of one porcupine operation.
type regOp struct {
	kind    regKind
	key     string
	seg     int
	worker  string
	id      int64
	read    int64
	wrote   int64
	fence   int64
	reason  string
	at      int64 // the read instant
	ret     int64 // the write instant, or MaxInt64
	carried bool  // a maybe-write carried into a later segment
}

// unknownValue is the state before any operation when a key's initial value is not assumed: the first
// operation placed defines it.
const unknownValue = math.MinInt64

// never is the return time of an operation whose effect may come at any later time.
const never = math.MaxInt64

// segmentTarget is the number of operations after which a key's history is cut at the next forced point. It is a
// variable so that tests can cut small histories into many segments.
var segmentTarget = 1024

func regStep(state, input, _ interface{}) (bool, interface{}) {
	s := state.(int64)
	o := input.(*regOp)
	switch o.kind {
	case regRMW:
		if s != unknownValue && s != o.read {
			return false, s
		}
		return true, o.wrote
	case regIncr:
		if s == unknownValue {
			return true, s
		}
		return true, s + 1
	case regRead:
		if s == unknownValue {
			return true, o.read
		}
		return s == o.read, s
	case regMaybeWrite:
		if s == o.read {
			return true, o.wrote
		}
		return true, s
	case regMaybeIncr:
		if s == unknownValue {
			return true, s
		}
		return true, s + 1
	case regStart:
		return true, o.wrote
	}
	return false, s
}

// registerModel is the per-segment counter model handed to porcupine.
func registerModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionBySegment,
		// The counter of a fresh run starts at zero, but assuming nothing costs no detection power (a lost
		// update needs two sections to disagree) and keeps a history that starts mid-way from being judged wrong.
		Init:  func() interface{} { return int64(unknownValue) },
		Step:  regStep,
		Equal: func(a, b interface{}) bool { return a.(int64) == b.(int64) },
		Hash:  func(s interface{}) uint64 { return uint64(s.(int64)) * 0x9e3779b97f4a7c15 },
		DescribeOperation: func(input, _ interface{}) string {
			return describeRegOp(input.(*regOp))
		},
		DescribeState: func(s interface{}) string {
			if s.(int64) == unknownValue {
				return "counter = ?"
			}
			return fmt.Sprintf("counter = %d", s.(int64))
		},
	}
}

func describeRegOp(o *regOp) string {
	fence := ""
	if o.fence != 0 {
		fence = fmt.Sprintf(", fence %d", o.fence)
	}
	switch o.kind {
	case regRMW:
		return fmt.Sprintf("%s on %s: read %d, wrote %d%s", o.worker, o.key, o.read, o.wrote, fence)
	case regIncr:
		return fmt.Sprintf("%s on %s: wrote (values not recorded)%s", o.worker, o.key, fence)
	case regRead:
		why := o.reason
		if why == "" {
			why = "write not recorded"
		}
		return fmt.Sprintf("%s on %s: read %d, did not write (%s)%s", o.worker, o.key, o.read, why, fence)
	case regMaybeWrite:
		c := ""
		if o.carried {
			c = ", carried from an earlier segment"
		}
		return fmt.Sprintf("%s on %s: may have written %d after reading %d (outcome unknown%s)", o.worker, o.key, o.wrote, o.read, c)
	case regMaybeIncr:
		return fmt.Sprintf("%s on %s: may have incremented (outcome unknown)", o.worker, o.key)
	case regStart:
		return fmt.Sprintf("%s: segment starts with counter = %d", o.key, o.wrote)
	}
	return "?"
}

// partitionBySegment groups operations by segment (each segment belongs to one key), keeping their order.
func partitionBySegment(ops []porcupine.Operation) [][]porcupine.Operation {
	var out [][]porcupine.Operation
	at := map[int]int{}
	for _, o := range ops {
		seg := o.Input.(*regOp).seg
		i, ok := at[seg]
		if !ok {
			i = len(out)
			at[seg] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], o)
	}
	return out
}

// LostUpdate is the register checker's counterexample: a critical section that no order of the operations can
// explain, because it read a value the counter did not hold at any moment it could have read it.
type LostUpdate struct {
	Key    string        `json:"key"`
	Worker string        `json:"worker"`
	ID     int64         `json:"id"`
	ReadAt time.Duration `json:"read_at_ns"`
	Read   int64         `json:"read"`
	// Wrote is what the section wrote; nil when it did not write.
	Wrote *int64 `json:"wrote,omitempty"`
	// Held is the counter's value where the longest consistent order found got stuck, and After the worker whose
	// write left it (empty when a segment start or nothing did).
	Held  *int64 `json:"held,omitempty"`
	After string `json:"after,omitempty"`
	// From and To bound the segment of the key's history porcupine could not linearize.
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"`
}

// String is the counterexample in one line.
func (l LostUpdate) String() string {
	held := "a different value"
	if l.Held != nil {
		held = fmt.Sprintf("%d", *l.Held)
		if l.After != "" {
			held += ", written by " + l.After
		}
	}
	return fmt.Sprintf("lost update on %s: %s read %d at %s but the counter held %s", l.Key, l.Worker, l.Read, fmtDur(l.ReadAt), held)
}

// RegisterResult is what the linearizability check found.
type RegisterResult struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Porcupine is porcupine's own answer: "Ok", "Illegal" or "Unknown" (timed out).
	Porcupine string `json:"porcupine"`
	// CriticalSections is the number of critical sections modelled; Operations the porcupine operations they
	// became (with the maybe-writes of indeterminate sections and the segment starts).
	CriticalSections int `json:"critical_sections"`
	Operations       int `json:"operations"`
	Keys             int `json:"keys"`
	Segments         int `json:"segments"`
	// Indeterminate counts sections whose write is unknown (info or no completion).
	Indeterminate   int           `json:"indeterminate"`
	IllegalSegments int           `json:"illegal_segments,omitempty"`
	LostUpdates     []LostUpdate  `json:"lost_updates,omitempty"`
	Timeout         time.Duration `json:"timeout_ns"`
	Elapsed         time.Duration `json:"elapsed_ns"`
}

// registerRun keeps what porcupine produced, for the visualisation.
type registerRun struct {
	parts   [][]porcupine.Operation
	info    porcupine.LinearizationInfo
	illegal []int
	timeout time.Duration
	clients map[string]int // porcupine client id of each worker
}

// CheckRegister runs the porcupine linearizability check of the per-key counters with the given time limit
// (0 means DefaultTimeout). It finds lost updates that leave no overlapping pair of intervals.
func CheckRegister(h *history.History, timeout time.Duration) RegisterResult {
	r, _ := checkRegister(buildIndex(h), timeout, DefaultMaxListed)
	return r
}

func checkRegister(ix *index, timeout time.Duration, maxListed int) (RegisterResult, *registerRun) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxListed <= 0 {
		maxListed = DefaultMaxListed
	}
	res := RegisterResult{Timeout: timeout}
	clients := make(map[string]int, len(ix.workers))
	for i, w := range ix.workers {
		clients[w] = i
	}
	parts, stats := buildSegments(ix, clients)
	res.CriticalSections, res.Keys, res.Indeterminate, res.Segments = stats.sections, stats.keys, stats.indeterminate, len(parts)
	var ops []porcupine.Operation
	for _, p := range parts {
		ops = append(ops, p...)
	}
	res.Operations = len(ops)
	run := &registerRun{parts: parts, timeout: timeout, clients: clients}

	began := time.Now()
	out, info := porcupine.CheckOperationsVerbose(registerModel(), ops, timeout)
	res.Elapsed = time.Since(began)
	res.Porcupine = string(out)
	run.info = info

	switch out {
	case porcupine.Ok:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("linearizable: %s on %s, no lost update", plural(res.CriticalSections, "critical section", "critical sections"), plural(res.Keys, "key", "keys"))
	case porcupine.Illegal:
		res.Verdict = Invalid
		run.illegal = illegalPartitions(parts, info)
		if res.Elapsed >= timeout {
			// The search was stopped: partitions it never finished look illegal too. Keep only those proven illegal
			// alone, within a bounded extra time (the verdict stands either way: porcupine proved some illegal).
			deadline := time.Now().Add(min(timeout, 5*time.Second))
			run.illegal = slices.DeleteFunc(run.illegal, func(p int) bool {
				left := time.Until(deadline)
				return left <= 0 || porcupine.CheckOperationsTimeout(registerModel(), parts[p], left) != porcupine.Illegal
			})
			if len(run.illegal) == 0 {
				res.Reason = "not linearizable (the search then timed out before it could name the lost update)"
			}
		}
		res.IllegalSegments = len(run.illegal)
		for _, p := range run.illegal {
			if len(res.LostUpdates) >= maxListed {
				break
			}
			if lu, ok := lostUpdate(parts[p], info.PartialLinearizations()[p]); ok {
				res.LostUpdates = append(res.LostUpdates, lu)
			}
		}
		slices.SortStableFunc(res.LostUpdates, func(a, b LostUpdate) int { return cmpInt(int64(a.ReadAt), int64(b.ReadAt)) })
		if res.Reason == "" {
			res.Reason = fmt.Sprintf("not linearizable: %s with a lost update", plural(res.IllegalSegments, "segment", "segments"))
		}
		if len(res.LostUpdates) > 0 {
			res.Reason += "; first: " + res.LostUpdates[0].String()
		}
	default:
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("the linearizability search timed out after %s", timeout)
	}
	return res, run
}

type segStats struct{ sections, keys, indeterminate int }

// buildSegments turns the critical sections into porcupine operations, one partition per key segment.
func buildSegments(ix *index, clients map[string]int) ([][]porcupine.Operation, segStats) {
	var st segStats
	byKey := map[string][]*op{}
	var keys []string
	for i := range ix.cs {
		o := &ix.cs[i]
		if _, ok := byKey[o.key]; !ok {
			keys = append(keys, o.key)
		}
		byKey[o.key] = append(byKey[o.key], o)
	}
	slices.Sort(keys)
	st.keys = len(keys)
	startClient := len(ix.workers)

	var parts [][]porcupine.Operation
	seg := -1
	for _, key := range keys {
		var main, maybes []porcupine.Operation
		for _, o := range byKey[key] {
			call := o.start
			if o.orphan {
				call = ix.first // the read happened some time after the history began
			}
			base := regOp{key: key, worker: o.worker, id: o.id, fence: o.fence, reason: o.reason, at: call, ret: o.end}
			client := clients[o.worker]
			add := func(list *[]porcupine.Operation, r regOp, ret int64) {
				rr := r
				*list = append(*list, porcupine.Operation{ClientId: client, Input: &rr, Call: call, Return: ret})
			}
			switch o.out {
			case outOK:
				st.sections++
				r := base
				switch {
				case o.hasRead:
					r.kind, r.read, r.wrote = regRMW, o.read, o.read+1
					if o.hasWrot {
						r.wrote = o.wrote
					}
				case o.hasWrot:
					r.kind, r.read, r.wrote = regRMW, o.wrote-1, o.wrote
				default:
					r.kind = regIncr
				}
				add(&main, r, o.end)
			case outFail:
				if !o.hasRead {
					continue
				}
				st.sections++
				r := base
				r.kind, r.read = regRead, o.read
				ret := call
				if o.orphan {
					ret = o.end
				}
				r.ret = ret
				add(&main, r, ret)
			default: // info or no completion
				st.sections++
				st.indeterminate++
				if !o.hasRead {
					r := base
					r.kind, r.ret = regMaybeIncr, never
					add(&maybes, r, never)
					continue
				}
				rd := base
				rd.kind, rd.read = regRead, o.read
				if rd.reason == "" {
					rd.reason = "outcome unknown"
				}
				ret := call
				if o.orphan {
					ret = o.end
				}
				rd.ret = ret
				add(&main, rd, ret)
				mw := base
				mw.kind, mw.read, mw.wrote, mw.ret = regMaybeWrite, o.read, o.read+1, never
				if o.hasWrot {
					mw.wrote = o.wrote
				}
				add(&maybes, mw, never)
			}
		}
		sortOps := func(s []porcupine.Operation) {
			slices.SortStableFunc(s, func(a, b porcupine.Operation) int {
				if c := cmpInt(a.Call, b.Call); c != 0 {
					return c
				}
				return cmpInt(a.Return, b.Return)
			})
		}
		sortOps(main)
		sortOps(maybes)

		// Walk the key's operations in call order, cutting at forced points.
		seg++
		cur := []porcupine.Operation{}
		var carried []porcupine.Operation // maybe-writes that may still fire, with their original call
		var inSeg []porcupine.Operation   // maybe-writes called in the current segment
		mi := 0
		maxRet := int64(math.MinInt64)
		exclMaxRet := int64(math.MinInt64) // latest return of the writers before the last one
		var last *regOp                    // the writer called last
		var lastRet int64
		forced := true
		var value int64 = unknownValue // the forced value at the segment's start
		setSeg := func(o porcupine.Operation) porcupine.Operation {
			r := *o.Input.(*regOp)
			r.seg = seg
			o.Input = &r
			return o
		}
		for _, y := range main {
			for mi < len(maybes) && maybes[mi].Call < y.Call {
				cur = append(cur, setSeg(maybes[mi]))
				inSeg = append(inSeg, maybes[mi])
				mi++
			}
			if len(cur) >= segmentTarget && y.Call > maxRet && forced && y.Call > math.MinInt64+2 {
				v := value
				if last != nil {
					v = last.wrote
				}
				if v != unknownValue {
					parts = append(parts, cur)
					seg++
					var keep []porcupine.Operation
					for _, m := range append(carried, inSeg...) {
						r := m.Input.(*regOp)
						if r.kind == regMaybeWrite && r.read < v {
							continue
						}
						keep = append(keep, m)
					}
					carried, inSeg = keep, nil
					start := &regOp{kind: regStart, key: key, seg: seg, wrote: v, at: y.Call - 2, ret: y.Call - 2, worker: "start"}
					cur = []porcupine.Operation{{ClientId: startClient, Input: start, Call: y.Call - 2, Return: y.Call - 2}}
					for _, m := range carried {
						r := *m.Input.(*regOp)
						r.seg, r.carried = seg, true
						cur = append(cur, porcupine.Operation{ClientId: m.ClientId, Input: &r, Call: y.Call - 1, Return: never})
					}
					value, last, forced = v, nil, true
					maxRet, exclMaxRet = math.MinInt64, math.MinInt64
				}
			}
			cur = append(cur, setSeg(y))
			maxRet = max(maxRet, y.Return)
			r := y.Input.(*regOp)
			switch r.kind {
			case regRMW, regIncr:
				if last != nil {
					exclMaxRet = max(exclMaxRet, lastRet)
				}
				last, lastRet = r, y.Return
				forced = r.kind == regRMW && exclMaxRet < y.Call
			}
		}
		for ; mi < len(maybes); mi++ {
			cur = append(cur, setSeg(maybes[mi]))
		}
		if len(cur) > 0 {
			parts = append(parts, cur)
		} else {
			seg--
		}
	}
	return parts, st
}

// illegalPartitions lists the partitions none of whose partial linearizations covers every operation.
func illegalPartitions(parts [][]porcupine.Operation, info porcupine.LinearizationInfo) []int {
	partials := info.PartialLinearizations()
	var out []int
	for p := range parts {
		longest := 0
		if p < len(partials) {
			for _, l := range partials[p] {
				longest = max(longest, len(l))
			}
		}
		if longest < len(parts[p]) {
			out = append(out, p)
		}
	}
	return out
}

// lostUpdate explains an illegal partition: it replays the longest consistent order porcupine found and names
// the earliest-called section left out of it, with the counter's value at that point.
func lostUpdate(part []porcupine.Operation, partials [][]int) (LostUpdate, bool) {
	var best []int
	for _, l := range partials {
		if len(l) > len(best) {
			best = l
		}
	}
	in := make([]bool, len(part))
	state := interface{}(int64(unknownValue))
	after := ""
	for _, id := range best {
		if id < 0 || id >= len(part) {
			return LostUpdate{}, false
		}
		in[id] = true
		r := part[id].Input.(*regOp)
		_, state = regStep(state, r, nil)
		switch r.kind {
		case regRMW, regIncr:
			after = r.worker
		case regMaybeWrite, regMaybeIncr:
			after = r.worker + " (possible write)"
		case regStart:
			after = ""
		}
	}
	stuck := -1
	for i, o := range part {
		k := o.Input.(*regOp).kind
		if in[i] || (k != regRMW && k != regRead && k != regIncr) {
			continue
		}
		if stuck < 0 || o.Call < part[stuck].Call {
			stuck = i
		}
	}
	if stuck < 0 {
		return LostUpdate{}, false
	}
	r := part[stuck].Input.(*regOp)
	lu := LostUpdate{Key: r.key, Worker: r.worker, ID: r.id, ReadAt: time.Duration(r.at), Read: r.read, After: after}
	if r.kind == regRMW {
		lu.Wrote = ptr(r.wrote)
	}
	if s := state.(int64); s != unknownValue {
		lu.Held = ptr(s)
	}
	from, to := int64(math.MaxInt64), int64(math.MinInt64)
	for _, o := range part {
		if o.Input.(*regOp).kind == regStart {
			continue
		}
		from = min(from, o.Call)
		if o.Return != never {
			to = max(to, o.Return)
		}
	}
	if to < from {
		to = from
	}
	lu.From, lu.To = time.Duration(from), time.Duration(to)
	return lu, true
}
