package checker

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// TokenRegression is a grant whose fencing token was no higher than the token of a grant that had completed before
// it was asked for. A fencing token is worth what its order is worth: the resource admits a token equal to or
// above the highest it has seen, so a token that repeats admits two holders, and one that goes back makes the
// resource refuse the lock's rightful holder. Kleppmann's fencing asks for a number that increases every time the
// lock is granted; "every time" is real-time order, the only order the lock's clients can see.
type TokenRegression struct {
	Key    string        `json:"key"`
	Worker string        `json:"worker"`
	ID     int64         `json:"id"`
	At     time.Duration `json:"at_ns"`
	Fence  int64         `json:"fence"`
	// Earlier is the highest token granted by an acquire that had completed before this one was invoked, to
	// EarlierWorker at EarlierAt.
	Earlier       int64         `json:"earlier"`
	EarlierWorker string        `json:"earlier_worker"`
	EarlierAt     time.Duration `json:"earlier_at_ns"`
}

// String is the regression in one line.
func (r TokenRegression) String() string {
	verb := "repeated"
	if r.Fence < r.Earlier {
		verb = "went back from"
	}
	return fmt.Sprintf("%s was granted %s with token %d at %s: the token %s %d, granted to %s at %s, before %s asked",
		r.Worker, r.Key, r.Fence, fmtDur(r.At), verb, r.Earlier, r.EarlierWorker, fmtDur(r.EarlierAt), r.Worker)
}

// checkTokenOrder finds the grants whose token is not above every token granted, on the same key, by an acquire
// that completed before they were invoked. Grants that overlap in time are not ordered and not compared. It looks
// only at grants that carry a token (a strategy without fencing grants 0). It returns how many grants regressed
// and the first maxListed of them, earliest first.
func checkTokenOrder(acquires []history.Op, maxListed int) (int, []TokenRegression) {
	byKey := map[string][]*history.Op{}
	for i := range acquires {
		a := &acquires[i]
		if a.Outcome == history.OutOK && a.Fence > 0 && !a.Orphan {
			byKey[a.Key] = append(byKey[a.Key], a)
		}
	}
	count := 0
	var listed []TokenRegression
	for _, grants := range byKey {
		n, regs := regressionsOnKey(grants, maxListed)
		count += n
		listed = append(listed, regs...)
	}
	slices.SortFunc(listed, func(a, b TokenRegression) int { return cmp.Compare(a.At, b.At) })
	if len(listed) > maxListed {
		listed = listed[:maxListed]
	}
	return count, listed
}

// regressionsOnKey sweeps one key's grants in the order they were asked for, keeping the highest token among the
// grants that completed before the current one was invoked.
func regressionsOnKey(grants []*history.Op, maxListed int) (int, []TokenRegression) {
	byStart := slices.Clone(grants)
	slices.SortStableFunc(byStart, func(a, b *history.Op) int { return cmp.Compare(a.Start, b.Start) })
	byEnd := slices.Clone(grants)
	slices.SortStableFunc(byEnd, func(a, b *history.Op) int { return cmp.Compare(a.End, b.End) })
	var top *history.Op
	count, j := 0, 0
	var out []TokenRegression
	for _, g := range byStart {
		for ; j < len(byEnd) && byEnd[j].End < g.Start; j++ {
			if top == nil || byEnd[j].Fence > top.Fence {
				top = byEnd[j]
			}
		}
		if top == nil || g.Fence > top.Fence {
			continue
		}
		count++
		if len(out) < maxListed {
			out = append(out, TokenRegression{Key: g.Key, Worker: g.Worker, ID: g.ID, At: time.Duration(g.End),
				Fence: g.Fence, Earlier: top.Fence, EarlierWorker: top.Worker, EarlierAt: time.Duration(top.End)})
		}
	}
	return count, out
}
