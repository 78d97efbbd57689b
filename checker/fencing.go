package checker

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// FenceViolation is a write the resource accepted although its fencing token was lower than one it had already
// accepted on the key: the fence did not protect the resource.
type FenceViolation struct {
	Key    string        `json:"key"`
	Worker string        `json:"worker"`
	ID     int64         `json:"id"`
	At     time.Duration `json:"at_ns"`
	Fence  int64         `json:"fence"`
	// Highest is the highest token accepted before, by HighestWorker at HighestAt.
	Highest       int64         `json:"highest"`
	HighestWorker string        `json:"highest_worker"`
	HighestAt     time.Duration `json:"highest_at_ns"`
}

// String is the violation in one line.
func (f FenceViolation) String() string {
	return fmt.Sprintf("%s wrote %s with fence %d at %s after %s's fence %d was accepted at %s",
		f.Worker, f.Key, f.Fence, fmtDur(f.At), f.HighestWorker, f.Highest, fmtDur(f.HighestAt))
}

// FencingResult is what the fencing checker found. A fencing token is only a guarantee if the resource enforces
// it, so decreasing tokens are a violation only when the header says the resource was fenced; otherwise they are
// counted, to show what fencing would have stopped.
type FencingResult struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Enforced is the header's Fenced: the resource rejected stale tokens during the run.
	Enforced bool `json:"enforced"`
	// Writes is the number of accepted writes checked; Rejected the writes the resource refused as stale.
	Writes   int `json:"writes"`
	Rejected int `json:"rejected"`
	// Decreases counts accepted writes whose token was lower than an earlier accepted one on the same key;
	// Violations lists the first of them when the resource was fenced.
	Decreases  int              `json:"decreases"`
	Violations []FenceViolation `json:"violations,omitempty"`
	// Grants is the number of granted tokens checked for order; Regressions counts the grants whose token was no
	// higher than one granted before they were asked for, and Regressed lists the first of them. A lock whose
	// tokens do not rise in real-time order breaks the fencing contract whatever the resource then did with them.
	Grants      int               `json:"grants,omitempty"`
	Regressions int               `json:"regressions,omitempty"`
	Regressed   []TokenRegression `json:"regressed,omitempty"`
}

// CheckFencing checks that the fencing tokens of the writes a fenced resource accepted rise per key, that the
// tokens the lock granted rise with the grants' real-time order, and counts the writes the resource rejected.
func CheckFencing(h *history.History) FencingResult {
	return checkFencing(buildIndex(h), DefaultMaxListed)
}

func checkFencing(ix *index, maxListed int) FencingResult {
	if maxListed <= 0 {
		maxListed = DefaultMaxListed
	}
	res := FencingResult{Enforced: ix.header.Fenced}
	var ws []*history.Op
	for i := range ix.cs {
		o := &ix.cs[i]
		switch {
		case o.Outcome == history.OutOK:
			ws = append(ws, o)
		case o.Outcome == history.OutFail && o.Reason == history.ReasonFenced:
			res.Rejected++
		}
	}
	res.Writes = len(ws)
	// Per key, in write order.
	slices.SortStableFunc(ws, func(a, b *history.Op) int {
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmpInt(a.End, b.End)
	})
	var top *history.Op
	for i, w := range ws {
		if i == 0 || w.Key != ws[i-1].Key {
			top = nil
		}
		if top != nil && w.Fence < top.Fence {
			res.Decreases++
			if res.Enforced && len(res.Violations) < maxListed {
				res.Violations = append(res.Violations, FenceViolation{Key: w.Key, Worker: w.Worker, ID: w.ID,
					At: time.Duration(w.End), Fence: w.Fence, Highest: top.Fence, HighestWorker: top.Worker,
					HighestAt: time.Duration(top.End)})
			}
			continue
		}
		if top == nil || w.Fence > top.Fence {
			top = w
		}
	}
	slices.SortStableFunc(res.Violations, func(a, b FenceViolation) int { return cmp.Compare(a.At, b.At) })
	if res.Enforced { // the lock claims fencing: its tokens must rise with its grants
		for i := range ix.acquires {
			if a := &ix.acquires[i]; a.Outcome == history.OutOK && a.Fence > 0 {
				res.Grants++
			}
		}
		res.Regressions, res.Regressed = checkTokenOrder(ix.acquires, maxListed)
	}
	switch {
	case res.Regressions > 0 && res.Decreases == 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("the lock granted %s no higher than one granted before it was asked for; first: %s",
			plural(res.Regressions, "token", "tokens"), res.Regressed[0])
	case res.Enforced && res.Decreases > 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("the fenced resource accepted %s with a stale token; first: %s",
			plural(res.Decreases, "write", "writes"), res.Violations[0])
		if res.Regressions > 0 {
			res.Reason += fmt.Sprintf("; the lock granted %s no higher than one granted before it was asked for",
				plural(res.Regressions, "token", "tokens"))
		}
	case res.Enforced:
		res.Verdict = Valid
		res.Reason = fmt.Sprintf("tokens rose on all %s; %s rejected as stale", plural(res.Writes, "accepted write", "accepted writes"), plural(res.Rejected, "write", "writes"))
	default:
		res.Verdict = Valid
		res.Reason = "the resource did not enforce fencing"
		if res.Decreases > 0 {
			res.Reason += fmt.Sprintf("; %s carried a lower token than an earlier one (fencing would have refused them)", plural(res.Decreases, "write", "writes"))
		}
	}
	return res
}
