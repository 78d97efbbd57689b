package checker

import (
	"fmt"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds the linearizability search. Porcupine's search is NP-hard in the worst case; past this
	// limit the register checker answers unknown instead of holding a run hostage.
	DefaultTimeout = 30 * time.Second
	// DefaultMinCriticalSections is the amount of written critical sections below which a run that found nothing
	// is unknown rather than valid, when the header does not say.
	DefaultMinCriticalSections = 20
	// DefaultMaxListed caps the counterexamples listed per checker (all are still counted), so that a lock that
	// breaks all the time does not produce a verdict.json of gigabytes.
	DefaultMaxListed = 100
	// DefaultMaxVisualized is the number of porcupine operations above which the visualisation shows only the
	// segments that matter (the illegal ones, those around overlaps, else the first) instead of the whole run.
	DefaultMaxVisualized = 20000
)

// Options tune Check. The zero value is ready to use.
type Options struct {
	// Timeout bounds the porcupine search; 0 means DefaultTimeout.
	Timeout time.Duration
	// MinCriticalSections overrides the header's minimum of written critical sections; 0 takes the header's,
	// and DefaultMinCriticalSections when the header has none.
	MinCriticalSections int
	// MaxListed caps the counterexamples listed per checker; 0 means DefaultMaxListed.
	MaxListed int
	// MaxVisualized caps the operations drawn by WriteVisualization; 0 means DefaultMaxVisualized.
	MaxVisualized int
	// Nodes is the servers' own record of the run (nodes.jsonl), from which each violation's cause is read; nil
	// when the run kept none, and causes are then inferred from the clients' beliefs alone.
	Nodes []history.NodeEvent
	// StuckTTLs is how many fault-free TTLs a key may go without a grant while workers keep trying before the
	// liveness verdict calls it stuck (see Liveness); 0 means StuckTTLs.
	StuckTTLs int
}

// Result is the judgement of one history: the merged verdict, why, and each checker's own result. It is written
// as verdict.json (its top-level "verdict" field is what scripts read) and printed by Summary and Text.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Reason says in one sentence why the verdict is what it is.
	Reason string `json:"reason"`

	Scenario string `json:"scenario,omitempty"`
	Strategy string `json:"strategy,omitempty"`
	Seed     int64  `json:"seed"`

	// Events is the number of events judged (the header excluded).
	Events int `json:"events"`
	// CriticalSections is the number of critical sections that wrote: the work the verdict rests on.
	CriticalSections int `json:"critical_sections"`
	// MinCriticalSections is the minimum applied: below it a run that found nothing is unknown.
	MinCriticalSections int `json:"min_critical_sections"`
	// Span is the time between the first and the last event.
	Span time.Duration `json:"span_ns"`

	// FirstViolation is when the earliest violation found began (since the run's start); 0 when none. Cause is
	// that violation's cause.
	FirstViolation time.Duration `json:"first_violation_ns,omitempty"`
	Cause          Cause         `json:"cause,omitempty"`

	Overlap  OverlapResult  `json:"overlap"`
	Register RegisterResult `json:"register"`
	Fencing  FencingResult  `json:"fencing"`
	Liveness Liveness       `json:"liveness"`

	// Faults are the fault windows of the run.
	Faults []FaultWindow `json:"faults"`
	// Notes report oddities of the history the checkers worked around (a cut-off last line, stray events).
	Notes []string `json:"notes,omitempty"`
	// NodeRecord says the causes were read from the servers' own record of the run, not only from beliefs.
	NodeRecord bool `json:"node_record"`
	// Ops are the operations the verdict was reached on, as history.Pair paired them. They are not written to
	// verdict.json (the history holds them); they are here so that the report draws these very operations and
	// cannot disagree with the verdict. Nil for a result read back from verdict.json.
	Ops []history.Op `json:"-"`

	vis *visual
}

// Stalled says whether a verdict is unknown because the run did too little work: fewer written critical sections
// than the minimum. That is how a lock that makes no progress under a fault reads, as opposed to an unknown for
// another reason (the checker's time budget, a machine too busy to be believed). Results and the matrix's
// outcomes, which keep only these three numbers, are judged by this one rule.
func Stalled(v Verdict, written, minimum int) bool { return v == Unknown && written < minimum }

// Stuck says whether the liveness verdict found a key nobody could take (see Liveness). It is reported beside the
// safety verdict, not merged into it: a stuck lock is still mutually exclusive, and CI that gates on the exit
// code should not mistake a liveness bug for a safety one.
func (r Result) Stuck() bool { return r.Liveness.Verdict == LivenessStuck }

// Check runs every checker on h and merges their verdicts: invalid if any found a violation; otherwise unknown
// when fewer critical sections wrote than the minimum or the linearizability search timed out; otherwise valid.
// The liveness verdict (Liveness.Verdict: did a key get stuck?) stands beside it and does not change it.
// It never fails: an empty or odd history is judged on what it holds, and oddities are listed in Notes.
func Check(h *history.History, opts Options) Result {
	ix := buildIndex(h)
	res := Result{
		Scenario: ix.header.Scenario,
		Strategy: ix.header.Strategy,
		Seed:     ix.header.Seed,
		Events:   ix.events,
		Span:     ix.span(),
		Faults:   ix.faults,
		Notes:    ix.notes,
		Ops:      ix.ops,
	}
	if res.Faults == nil {
		res.Faults = []FaultWindow{}
	}
	res.MinCriticalSections = opts.MinCriticalSections
	if res.MinCriticalSections <= 0 {
		res.MinCriticalSections = ix.header.MinCriticalSections
	}
	if res.MinCriticalSections <= 0 {
		res.MinCriticalSections = DefaultMinCriticalSections
	}

	res.Overlap = checkOverlap(ix, opts.MaxListed)
	if opts.Nodes != nil {
		explainOverlaps(&res.Overlap, ix, opts.Nodes)
		res.NodeRecord = true
	}
	tellCuts(&res.Overlap, ix.faults)
	if opts.Nodes == nil && res.Overlap.Count > 0 {
		res.Notes = append(res.Notes, "no node record: causes are inferred from the clients' beliefs only")
	}
	var run *registerRun
	res.Register, run = checkRegister(ix, opts.Timeout, opts.MaxListed)
	res.Fencing = checkFencing(ix, opts.MaxListed)
	res.Liveness = measureLiveness(ix)
	if note := judgeLiveness(ix, opts.StuckTTLs, &res.Liveness); note != "" {
		res.Notes = append(res.Notes, note)
	}
	res.CriticalSections = res.Liveness.All.CS.Written
	res.vis = &visual{run: run, faults: ix.faults, overlaps: res.Overlap.Overlaps, lost: res.Register.LostUpdates,
		maxOps: opts.MaxVisualized}

	res.FirstViolation, res.Cause = firstViolation(&res)
	res.Verdict = MergeAll(res.Overlap.Verdict, res.Register.Verdict, res.Fencing.Verdict)
	switch res.Verdict {
	case Invalid:
		res.Reason = violationReason(&res)
	case Unknown:
		res.Reason = res.Register.Reason + " and no overlap was found"
	}
	if res.Verdict != Invalid && res.CriticalSections < res.MinCriticalSections {
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("only %s wrote, fewer than the minimum of %d: too little work to vouch for the lock",
			plural(res.CriticalSections, "critical section", "critical sections"), res.MinCriticalSections)
	}
	if res.Verdict == Valid {
		res.Reason = fmt.Sprintf("%s on %s, none overlapping, linearizable", plural(res.CriticalSections, "critical section", "critical sections"), plural(max(res.Overlap.Keys, res.Register.Keys), "key", "keys"))
		if res.Fencing.Enforced || res.Fencing.Grants > 0 {
			res.Reason += ", fences rising"
		}
	}
	return res
}

// firstViolation finds the earliest violation among the checkers' counterexamples, with its cause.
func firstViolation(r *Result) (time.Duration, Cause) {
	var at time.Duration
	var cause Cause
	found := false
	consider := func(t time.Duration, c Cause) {
		if !found || t < at {
			at, cause, found = t, c, true
		}
	}
	if len(r.Overlap.Overlaps) > 0 {
		consider(r.Overlap.Overlaps[0].From, r.Overlap.Overlaps[0].Cause)
	}
	if len(r.Register.LostUpdates) > 0 && r.Overlap.Count == 0 {
		consider(r.Register.LostUpdates[0].ReadAt, CauseLostUpdate)
	}
	if r.Fencing.Verdict == Invalid && len(r.Fencing.Violations) > 0 {
		consider(r.Fencing.Violations[0].At, CauseStaleFence)
	}
	if len(r.Fencing.Regressed) > 0 && r.Fencing.Decreases == 0 { // a stale token accepted is the direct harm
		consider(r.Fencing.Regressed[0].At, CauseTokenRegressed)
	}
	if !found {
		return 0, ""
	}
	if at <= 0 {
		// 0 means "none" in the JSON; a violation at the very first instant is reported one nanosecond later.
		at = 1
	}
	return at, cause
}

// violationReason is the sentence of an invalid verdict: the first counterexample of the most direct checker.
func violationReason(r *Result) string {
	switch {
	case r.Overlap.Verdict == Invalid && len(r.Overlap.Overlaps) > 0:
		s := r.Overlap.Overlaps[0].String()
		if r.Overlap.Count > 1 {
			s += fmt.Sprintf("; %d overlapping pairs in all", r.Overlap.Count)
		}
		return s
	case r.Register.Verdict == Invalid && len(r.Register.LostUpdates) > 0:
		return r.Register.LostUpdates[0].String() + " (not linearizable)"
	case r.Register.Verdict == Invalid:
		return r.Register.Reason
	case r.Fencing.Verdict == Invalid:
		return r.Fencing.Reason
	}
	return r.Overlap.Reason
}
