package checker

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// CriticalSection is one critical section as a counterexample shows it: who held the lock, when it read and wrote
// the protected counter (times since the run's start, stamped inside the resource's mutex, so exact), what it
// read and wrote, its fencing token, and how much validity its holder believed it had left at each instant.
type CriticalSection struct {
	ID      int64         `json:"id"`
	Worker  string        `json:"worker"`
	Key     string        `json:"key"`
	ReadAt  time.Duration `json:"read_at_ns"`
	WroteAt time.Duration `json:"wrote_at_ns"`
	Read    int64         `json:"read"`
	Wrote   int64         `json:"wrote"`
	Fence   int64         `json:"fence,omitempty"`
	// ValidAtRead and ValidAtWrite are the holder's remaining validity at the read and at the write; negative
	// at the write means the holder wrote after its lease had run out. Nil when the history does not say.
	ValidAtRead  *time.Duration `json:"valid_at_read_ns,omitempty"`
	ValidAtWrite *time.Duration `json:"valid_at_write_ns,omitempty"`
}

// ValidUntil is the instant (since the run's start) until which the holder believed its lease valid, taken from
// the latest figure the history has (the write's, which includes any extension made while working). ok is false
// when the history carries no validity figure.
func (c CriticalSection) ValidUntil() (t time.Duration, ok bool) {
	switch {
	case c.ValidAtWrite != nil:
		return c.WroteAt + *c.ValidAtWrite, true
	case c.ValidAtRead != nil:
		return c.ReadAt + *c.ValidAtRead, true
	}
	return 0, false
}

// Overlap is a definite violation of mutual exclusion: two critical sections on one key where each read the
// counter before the other wrote it, so one increment was lost. First is the one that read first.
type Overlap struct {
	Key    string          `json:"key"`
	First  CriticalSection `json:"first"`
	Second CriticalSection `json:"second"`
	// From and To bound the time both were inside their critical sections: from the second's read to the
	// earlier of the two writes.
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"`
	// Cause says whose fault it was; Outlived names the holder that worked past its own lease when Cause is
	// lease-outlived; BothValid says both holders believed their leases valid when the second one read.
	Cause     Cause  `json:"cause"`
	Outlived  string `json:"outlived,omitempty"`
	BothValid bool   `json:"both_valid"`
	// BeliefCause is the cause the clients' beliefs alone suggest (lease-outlived, granted-twice), kept beside
	// Cause when the servers' record proved another; Story tells that proof in one sentence, on Nodes.
	BeliefCause Cause    `json:"belief_cause,omitempty"`
	Story       string   `json:"story,omitempty"`
	Nodes       []string `json:"nodes,omitempty"`
	// Faults names the faults in force at some instant from the first holder's read to To: the fault that took
	// the first holder's lock away (a crash, a clock jump, a failover) is often over by the time the second
	// holder reads, so the window starts where the first holder's section did, not where the overlap does.
	Faults []string `json:"faults"`
}

// String is the pair in one line, as the summary and the terminal show it.
func (o Overlap) String() string {
	reads := fmt.Sprintf("both read %d", o.First.Read)
	if o.First.Read != o.Second.Read {
		reads = fmt.Sprintf("read %d and %d", o.First.Read, o.Second.Read)
	}
	cause := string(o.Cause)
	if o.Outlived != "" {
		cause += " by " + o.Outlived
	}
	from, to := spanStrings(o.From, o.To)
	if o.Story != "" {
		return fmt.Sprintf("%s and %s overlap on %s at %s–%s (%s; %s: %s; faults: %s)",
			o.First.Worker, o.Second.Worker, o.Key, from, to, reads, o.Cause, o.Story, faultList(o.Faults))
	}
	return fmt.Sprintf("%s and %s overlap on %s at %s–%s (%s; %s; faults: %s)",
		o.First.Worker, o.Second.Worker, o.Key, from, to, reads, cause, faultList(o.Faults))
}

// OverlapResult is what the overlap checker found.
type OverlapResult struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Checked is the number of critical sections that wrote, the only ones whose intervals can lose an update.
	Checked int `json:"checked"`
	Keys    int `json:"keys"`
	// Count is the number of overlapping pairs; Overlaps lists the earliest of them (at most Options.MaxListed).
	Count    int       `json:"count"`
	Overlaps []Overlap `json:"overlaps,omitempty"`
	// Causes counts the pairs by cause (pairs beyond a large bound in one pathological history stay uncounted).
	Causes map[Cause]int `json:"causes,omitempty"`
}

// CheckOverlap sweeps the critical sections that wrote, per key, and reports every two that overlap. It runs in
// O(n log n) (a sort, then a sweep keeping the open sections in a heap ordered by write time), so that it keeps
// up with histories of millions of events.
func CheckOverlap(h *history.History) OverlapResult {
	return checkOverlap(buildIndex(h), 0)
}

// classifyLimit bounds the pairs classified one by one: beyond it, a history where every section overlaps every
// other would take quadratic time to explain; those pairs are still counted.
const classifyLimit = 1 << 20

func checkOverlap(ix *index, maxListed int) OverlapResult {
	if maxListed <= 0 {
		maxListed = DefaultMaxListed
	}
	res := OverlapResult{Causes: map[Cause]int{}}
	// Writing sections with a known read instant, grouped by key and sorted by read (ix.cs is sorted by start,
	// and a stable partition by key keeps that order).
	var ws []*history.Op
	for i := range ix.cs {
		o := &ix.cs[i]
		if o.Outcome == history.OutOK && !o.Orphan {
			ws = append(ws, o)
		}
	}
	slices.SortStableFunc(ws, func(a, b *history.Op) int { return cmp.Compare(a.Key, b.Key) })
	res.Checked = len(ws)

	var listed []Overlap
	classified := 0
	var h endHeap
	for lo := 0; lo < len(ws); {
		hi := lo + 1
		for hi < len(ws) && ws[hi].Key == ws[lo].Key {
			hi++
		}
		res.Keys++
		h = h[:0]
		perKey := 0
		for _, b := range ws[lo:hi] {
			// Sections that wrote at or before b read cannot have lost b's update, nor b theirs: b read after them.
			// (At equal instants the order inside the resource's mutex is unknown; the register checker judges
			// those by their values.)
			for len(h) > 0 && h[0].End <= b.Start {
				h.pop()
			}
			res.Count += len(h)
			for _, a := range h {
				if classified >= classifyLimit && perKey >= maxListed {
					break
				}
				ov := overlapOf(a, b)
				if classified < classifyLimit {
					res.Causes[ov.Cause]++
					classified++
				}
				if perKey < maxListed {
					ov.Faults = activeFaults(ix.faults, ov.First.ReadAt, ov.To)
					listed = append(listed, ov)
					perKey++
				}
			}
			h.push(b)
		}
		lo = hi
	}
	slices.SortStableFunc(listed, func(a, b Overlap) int {
		if c := cmp.Compare(a.From, b.From); c != 0 {
			return c
		}
		return cmp.Compare(a.Second.ID, b.Second.ID)
	})
	if len(listed) > maxListed {
		listed = listed[:maxListed]
	}
	res.Overlaps = listed
	if len(res.Causes) == 0 {
		res.Causes = nil
	}
	switch {
	case res.Count > 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("%s of writing critical sections: %s", plural(res.Count, "overlapping pair", "overlapping pairs"), causeCounts(res.Causes))
	default:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("no two of %s on %s overlap", plural(res.Checked, "writing critical section", "writing critical sections"), plural(res.Keys, "key", "keys"))
	}
	return res
}

// overlapOf describes the pair where a read first and b read before a wrote.
func overlapOf(a, b *history.Op) Overlap {
	ov := Overlap{Key: b.Key, First: criticalSectionOf(a), Second: criticalSectionOf(b), From: time.Duration(b.Start),
		To: time.Duration(min(a.End, b.End))}
	ov.Cause, ov.Outlived, ov.BothValid = classify(ov.First, ov.Second)
	return ov
}

// classify explains an overlap between first (which read first) and second. When, at second's read, both holders
// believed their leases valid, the lock service granted the lock twice, whatever the clients did afterwards.
// Otherwise a holder worked past its own ValidUntil: first wrote after its lease ran out (or its lease had already
// ended when second read), or second read after its own lease had run out.
func classify(first, second CriticalSection) (cause Cause, outlived string, bothValid bool) {
	vuFirst, knowFirst := first.ValidUntil()
	knowSecond := second.ValidAtRead != nil
	firstValid := knowFirst && vuFirst > second.ReadAt
	secondValid := knowSecond && *second.ValidAtRead > 0
	switch {
	case firstValid && secondValid:
		return CauseGrantedTwice, "", true
	case first.ValidAtWrite != nil && *first.ValidAtWrite < 0, knowFirst && !firstValid:
		return CauseLeaseOutlived, first.Worker, false
	case knowSecond && !secondValid:
		return CauseLeaseOutlived, second.Worker, false
	}
	return CauseUnexplained, "", false
}

func causeCounts(m map[Cause]int) string {
	s := ""
	for _, c := range []Cause{CauseForeignDelete, CauseSelfDelete, CauseBeliefOutlived, CauseNodeForgot, CauseEarlyExpiry, CauseMajorityOverlap,
		CauseGrantedTwice, CauseLeaseOutlived, CauseUnexplained} {
		if m[c] > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", c, m[c])
		}
	}
	return s
}

// endHeap is a min-heap of open critical sections ordered by write time.
type endHeap []*history.Op

func (h *endHeap) push(o *history.Op) {
	*h = append(*h, o)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].End <= s[i].End {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *endHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].End < s[m].End {
			m = l
		}
		if r < n && s[r].End < s[m].End {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
}
