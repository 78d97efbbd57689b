package checker

// Verdict is the outcome of a check. It is a string so that verdict.json and the comparison matrix can carry it
// as is.
type Verdict string

// The three verdicts. A history is Valid when every checker found mutual exclusion kept and enough work was done
// to mean something; Invalid when any checker found a definite violation; Unknown when nothing was found but the
// evidence is too thin to say so (too few critical sections, or the linearizability search ran out of time).
const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	Unknown Verdict = "unknown"
)

// rank orders verdicts worst last, so that merging keeps the worst.
func (v Verdict) rank() int {
	switch v {
	case Invalid:
		return 2
	case Unknown:
		return 1
	case Valid:
		return 0
	}
	// Anything else (an empty or foreign string) cannot vouch for safety: treat it as unknown.
	return 1
}

// Merge returns the worse of two verdicts: invalid beats unknown beats valid. One definite violation decides a
// run whatever the other checkers say, and a run that could not be fully judged is never reported valid.
func Merge(a, b Verdict) Verdict {
	switch max(a.rank(), b.rank()) {
	case 2:
		return Invalid
	case 1:
		return Unknown
	}
	return Valid
}

// MergeAll folds Merge over vs, starting from Valid: the verdict of a set of checks or of several runs.
func MergeAll(vs ...Verdict) Verdict {
	w := Valid
	for _, v := range vs {
		w = Merge(w, v)
	}
	return w
}

// ExitCode maps a verdict to a process exit code, as Jepsen does: 0 valid, 1 invalid, 2 unknown (the same code a
// run that could not start uses), so that CI can tell a broken lock from a run that proved nothing.
func (v Verdict) ExitCode() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 1
	}
	return 2
}

// ExitCode is Verdict.ExitCode as a function, for callers that hold a plain verdict value.
func ExitCode(v Verdict) int { return v.ExitCode() }

// Cause explains a violation in one word a person can act on.
type Cause string

// Causes of a violation.
const (
	// CauseLeaseOutlived: a holder kept working on the resource after its own lease had run out (a pause, a
	// stall, or a client that never checks ValidUntil). The lock service did nothing wrong; the client did.
	CauseLeaseOutlived Cause = "lease-outlived"
	// CauseGrantedTwice: at the moment the second holder read the resource, both holders believed their leases
	// valid. The lock service handed out the same lock twice.
	CauseGrantedTwice Cause = "granted-twice"
	// CauseUnexplained: the history lacks the validity figures needed to tell the two causes apart.
	CauseUnexplained Cause = "unexplained"
	// CauseLostUpdate: the linearizability check found an increment lost without two writing critical sections
	// overlapping in time (for example a critical section that read a stale value).
	CauseLostUpdate Cause = "lost-update"
	// CauseStaleFence: the resource enforced fencing and still accepted a write whose token was lower than one it
	// had accepted before.
	CauseStaleFence Cause = "stale-fence"
	// CauseTokenRegressed: the lock granted a fencing token no higher than one it had granted before the grant was
	// asked for (a counter that forgot, majorities that never heard of the last token): fencing with it fences
	// nothing.
	CauseTokenRegressed Cause = "token-regressed"
)
