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
	keys, byKey := sectionsByKey(ix.cs)
	st.keys = len(keys)
	s := &segmenter{seg: -1, startClient: len(ix.workers)}
	for _, key := range keys {
		k := keyOps{}
		for _, o := range byKey[key] {
			k.addSection(o, key, ix.first, clients[o.Worker], &st)
		}
		k.sort()
		s.cutKey(key, k.main, k.maybes)
	}
	return s.parts, st
}

// sectionsByKey groups the critical sections by key, each key's in the order of cs; the keys come sorted.
func sectionsByKey(cs []history.Op) ([]string, map[string][]*history.Op) {
	byKey := map[string][]*history.Op{}
	var keys []string
	for i := range cs {
		o := &cs[i]
		if _, ok := byKey[o.Key]; !ok {
			keys = append(keys, o.Key)
		}
		byKey[o.Key] = append(byKey[o.Key], o)
	}
	slices.Sort(keys)
	return keys, byKey
}

// keyOps are one key's porcupine operations: main those that return, maybes the maybe-writes and
// maybe-increments, which return never.
type keyOps struct {
	main, maybes []porcupine.Operation
}

// addSection turns one critical section into its operations (see the top of this file) and counts it. An orphan's
// read is placed at the history's first instant: it happened some time after the history began.
func (k *keyOps) addSection(o *history.Op, key string, first int64, client int, st *segStats) {
	call := o.Start
	if o.Orphan {
		call = first
	}
	base := regOp{key: key, worker: o.Worker, id: o.ID, fence: o.Fence, reason: o.Reason, at: call, ret: o.End}
	switch o.Outcome {
	case history.OutOK:
		st.sections++
		k.add(&k.main, client, wroteOp(base, o))
	case history.OutFail:
		if !o.HasRead {
			return
		}
		st.sections++
		k.add(&k.main, client, readOp(base, o))
	default: // info or no completion
		st.sections++
		st.indeterminate++
		if !o.HasRead {
			r := base
			r.kind, r.ret = regMaybeIncr, never
			k.add(&k.maybes, client, r)
			return
		}
		rd := readOp(base, o)
		if rd.reason == "" {
			rd.reason = "outcome unknown"
		}
		k.add(&k.main, client, rd)
		k.add(&k.maybes, client, maybeWriteOp(base, o))
	}
}

// add appends r to list as an operation of client from r's read instant to its return.
func (k *keyOps) add(list *[]porcupine.Operation, client int, r regOp) {
	*list = append(*list, porcupine.Operation{ClientId: client, Input: &r, Call: r.at, Return: r.ret})
}

// sort orders both lists by call, then return.
func (k *keyOps) sort() {
	for _, s := range [][]porcupine.Operation{k.main, k.maybes} {
		slices.SortStableFunc(s, func(a, b porcupine.Operation) int {
			if c := cmpInt(a.Call, b.Call); c != 0 {
				return c
			}
			return cmpInt(a.Return, b.Return)
		})
	}
}

// wroteOp is a section that wrote: a read-modify-write of the values it recorded, or an increment when it
// recorded none.
func wroteOp(base regOp, o *history.Op) regOp {
	r := base
	switch {
	case o.HasRead:
		r.kind, r.read, r.wrote = regRMW, o.Read, o.Read+1
		if o.HasWrote {
			r.wrote = o.Wrote
		}
	case o.HasWrote:
		r.kind, r.read, r.wrote = regRMW, o.Wrote-1, o.Wrote
	default:
		r.kind = regIncr
	}
	return r
}

// readOp is the read of a section that did not write, or may not have: an instant at its read (an orphan's
// stretches to its completion, its read instant being unknown).
func readOp(base regOp, o *history.Op) regOp {
	r := base
	r.kind, r.read, r.ret = regRead, o.Read, base.at
	if o.Orphan {
		r.ret = o.End
	}
	return r
}

// maybeWriteOp is the write an indeterminate section may have made after its read.
func maybeWriteOp(base regOp, o *history.Op) regOp {
	r := base
	r.kind, r.read, r.wrote, r.ret = regMaybeWrite, o.Read, o.Read+1, never
	if o.HasWrote {
		r.wrote = o.Wrote
	}
	return r
}

// segmenter cuts each key's operations into segments at forced points (see the top of this file), numbering the
// segments across keys.
type segmenter struct {
	parts       [][]porcupine.Operation
	seg         int // the current segment's number
	startClient int // the porcupine client of the segments' start operations
}

// cutKey walks one key's operations in call order, the maybe-writes merged in, and appends its segments.
func (s *segmenter) cutKey(key string, main, maybes []porcupine.Operation) {
	s.seg++
	w := &keyWalk{segmenter: s, key: key, cur: []porcupine.Operation{}, maxRet: math.MinInt64,
		exclMaxRet: math.MinInt64, forced: true, value: unknownValue}
	mi := 0
	for _, y := range main {
		for ; mi < len(maybes) && maybes[mi].Call < y.Call; mi++ {
			w.cur = append(w.cur, w.inSegment(maybes[mi]))
			w.inSeg = append(w.inSeg, maybes[mi])
		}
		if v, ok := w.cutBefore(y); ok {
			w.cut(y, v)
		}
		w.add(y)
	}
	for ; mi < len(maybes); mi++ {
		w.cur = append(w.cur, w.inSegment(maybes[mi]))
	}
	if len(w.cur) > 0 {
		s.parts = append(s.parts, w.cur)
	} else {
		s.seg--
	}
}

// keyWalk is the state of the walk along one key's operations.
type keyWalk struct {
	*segmenter
	key     string
	cur     []porcupine.Operation // the current segment
	carried []porcupine.Operation // maybe-writes that may still fire, with their original call
	inSeg   []porcupine.Operation // maybe-writes called in the current segment
	maxRet  int64
	// exclMaxRet is the latest return of the writers before the last one.
	exclMaxRet int64
	last       *regOp // the writer called last
	lastRet    int64
	forced     bool
	value      int64 // the forced value at the segment's start
}

// inSegment is a copy of o placed in the current segment.
func (w *keyWalk) inSegment(o porcupine.Operation) porcupine.Operation {
	r := *o.Input.(*regOp)
	r.seg = w.seg
	o.Input = &r
	return o
}

// cutBefore says whether the segment may end before y, and with which forced value: when it is long enough,
// everything in it returned before y was called, and its last writer was called after every other one returned.
func (w *keyWalk) cutBefore(y porcupine.Operation) (int64, bool) {
	if len(w.cur) < segmentTarget || y.Call <= w.maxRet || !w.forced || y.Call <= math.MinInt64+2 {
		return 0, false
	}
	v := w.value
	if w.last != nil {
		v = w.last.wrote
	}
	return v, v != unknownValue
}

// cut ends the segment before y and starts the next with the forced value v, followed by copies of the
// maybe-writes that may still fire (one that read less than v cannot: the counter never decreases).
func (w *keyWalk) cut(y porcupine.Operation, v int64) {
	w.parts = append(w.parts, w.cur)
	w.seg++
	var keep []porcupine.Operation
	for _, m := range append(w.carried, w.inSeg...) {
		r := m.Input.(*regOp)
		if r.kind == regMaybeWrite && r.read < v {
			continue
		}
		keep = append(keep, m)
	}
	w.carried, w.inSeg = keep, nil
	start := &regOp{kind: regStart, key: w.key, seg: w.seg, wrote: v, at: y.Call - 2, ret: y.Call - 2, worker: "start"}
	w.cur = []porcupine.Operation{{ClientId: w.startClient, Input: start, Call: y.Call - 2, Return: y.Call - 2}}
	for _, m := range w.carried {
		r := *m.Input.(*regOp)
		r.seg, r.carried = w.seg, true
		w.cur = append(w.cur, porcupine.Operation{ClientId: m.ClientId, Input: &r, Call: y.Call - 1, Return: never})
	}
	w.value, w.last, w.forced = v, nil, true
	w.maxRet, w.exclMaxRet = math.MinInt64, math.MinInt64
}

// add appends y to the segment and tracks whether the counter's value is still forced after it.
func (w *keyWalk) add(y porcupine.Operation) {
	w.cur = append(w.cur, w.inSegment(y))
	w.maxRet = max(w.maxRet, y.Return)
	r := y.Input.(*regOp)
	switch r.kind {
	case regRMW, regIncr:
		if w.last != nil {
			w.exclMaxRet = max(w.exclMaxRet, w.lastRet)
		}
		w.last, w.lastRet = r, y.Return
		w.forced = r.kind == regRMW && w.exclMaxRet < y.Call
	}
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
