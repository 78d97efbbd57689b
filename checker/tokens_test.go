package checker

import (
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/history"
)

func granted(worker string, start, end, fence int64) history.Op {
	return history.Op{Name: history.OpAcquire, Worker: worker, Key: "k0", Start: start, End: end, Outcome: history.OutOK, Fence: fence}
}

func TestTokensMustRiseWithTheGrantsRealTimeOrder(t *testing.T) {
	tests := []struct {
		name   string
		grants []history.Op
		want   int
	}{
		{"rising tokens are in order", []history.Op{granted("a", 0, 10, 1), granted("b", 20, 30, 2), granted("c", 40, 50, 3)}, 0},
		{"a token repeated after its grant completed is a regression", []history.Op{granted("a", 0, 10, 5), granted("b", 20, 30, 5)}, 1},
		{"a token that goes back after a counter forgot is a regression", []history.Op{granted("a", 0, 10, 5), granted("b", 20, 30, 6), granted("c", 40, 50, 1), granted("d", 60, 70, 2)}, 2},
		{"grants that overlap in time are not ordered", []history.Op{granted("a", 0, 30, 5), granted("b", 10, 40, 4)}, 0},
		{"a grant asked for at the instant another completed is not ordered after it", []history.Op{granted("a", 0, 10, 5), granted("b", 10, 20, 4)}, 0},
		{"grants without a token are not judged", []history.Op{granted("a", 0, 10, 0), granted("b", 20, 30, 0)}, 0},
		{"a refused or indeterminate acquire is no grant", []history.Op{granted("a", 0, 10, 5), {Name: history.OpAcquire, Worker: "b", Key: "k0", Start: 20, End: 30, Outcome: history.OutInfo, Fence: 3}}, 0},
		{"keys are judged apart", []history.Op{granted("a", 0, 10, 5), func() history.Op { g := granted("b", 20, 30, 1); g.Key = "k1"; return g }()}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, listed := checkTokenOrder(tc.grants, 10)
			eq(t, "regressions", n, tc.want)
			eq(t, "listed", len(listed), tc.want)
		})
	}
}

func TestAFencedLockWhoseTokenRepeatsIsInvalidEvenWhenTheResourceRefusedTheWrite(t *testing.T) {
	h := &history.History{Header: history.Header{Strategy: "fenced", Fenced: true, MinCriticalSections: 20}}
	id := int64(0)
	at := int64(0)
	add := func(e history.Event) { h.Events = append(h.Events, e) }
	section := func(worker string, fence int64, rejected bool) {
		id++
		add(history.Event{T: at, Ev: history.EvInvoke, ID: id, Op: history.OpAcquire, Worker: worker, Key: "k0"})
		add(history.Event{T: at + 1e6, Ev: history.EvOK, ID: id, Op: history.OpAcquire, Worker: worker, Key: "k0", Fence: fence, ValidNS: history.Int(1e9)})
		id++
		add(history.Event{T: at + 2e6, Ev: history.EvInvoke, ID: id, Op: history.OpCS, Worker: worker, Key: "k0", Fence: fence})
		if rejected {
			add(history.Event{T: at + 3e6, Ev: history.EvFail, ID: id, Op: history.OpCS, Worker: worker, Key: "k0", Fence: fence, Reason: history.ReasonFenced})
		} else {
			w := fence - 1
			add(history.Event{T: at + 3e6, Ev: history.EvOK, ID: id, Op: history.OpCS, Worker: worker, Key: "k0", Fence: fence, Read: history.Int(w), Wrote: history.Int(w + 1)})
		}
		at += 10e6
	}
	for f := int64(1); f <= 25; f++ {
		section("g1w1", f, false)
	}
	section("g2w1", 25, true) // the counter forgot: the token repeats, and the resource refuses it
	r := Check(h, Options{})
	eq(t, "verdict", r.Verdict, Invalid)
	eq(t, "cause", r.Cause, CauseTokenRegressed)
	eq(t, "regressions", r.Fencing.Regressions, 1)
	if !strings.Contains(r.Reason, "g2w1 was granted k0 with token 25") || !strings.Contains(r.Reason, "repeated 25") {
		t.Fatalf("reason %q", r.Reason)
	}
	h.Header.Fenced = false // a lock that does not claim fencing is not held to it
	eq(t, "unfenced verdict", Check(h, Options{}).Verdict, Valid)
}
