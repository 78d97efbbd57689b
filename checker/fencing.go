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
}

// CheckFencing checks that the fencing tokens of the writes a fenced resource accepted rise per key, and counts
// the writes it rejected.
func CheckFencing(h *history.History) FencingResult {
	return checkFencing(buildIndex(h), DefaultMaxListed)
}

func checkFencing(ix *index, maxListed int) FencingResult {
	if maxListed <= 0 {
		maxListed = DefaultMaxListed
	}
	res := FencingResult{Enforced: ix.header.Fenced}
	var ws []*op
	for i := range ix.cs {
		o := &ix.cs[i]
		switch {
		case o.out == outOK:
			ws = append(ws, o)
		case o.out == outFail && o.reason == history.ReasonFenced:
			res.Rejected++
		}
	}
	res.Writes = len(ws)
	// Per key, in write order.
	slices.SortStableFunc(ws, func(a, b *op) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmpInt(a.end, b.end)
	})
	var top *op
	for i, w := range ws {
		if i == 0 || w.key != ws[i-1].key {
			top = nil
		}
		if top != nil && w.fence < top.fence {
			res.Decreases++
			if res.Enforced && len(res.Violations) < maxListed {
				res.Violations = append(res.Violations, FenceViolation{Key: w.key, Worker: w.worker, ID: w.id,
					At: time.Duration(w.end), Fence: w.fence, Highest: top.fence, HighestWorker: top.worker,
					HighestAt: time.Duration(top.end)})
			}
			continue
		}
		if top == nil || w.fence > top.fence {
			top = w
		}
	}
	slices.SortStableFunc(res.Violations, func(a, b FenceViolation) int { return cmp.Compare(a.At, b.At) })
	switch {
	case res.Enforced && res.Decreases > 0:
		res.Verdict = Invalid
		res.Reason = fmt.Sprintf("the fenced resource accepted %s with a stale token; first: %s",
			plural(res.Decreases, "write", "writes"), res.Violations[0])
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
