package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// storyHistory is two holders of k0 whose sections overlap: a (granted at 100ms, reads at 110ms, writes at 900ms,
// believing in its lease until validUntil) and b (granted at 600ms, reads at 610ms, writes at 700ms).
func storyHistory(validUntilMS int64) *history.History {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	v := func(n int64) *int64 { return history.Int(ms(n)) }
	return &history.History{Events: []history.Event{
		{T: ms(90), Ev: history.EvInvoke, ID: 1, Op: history.OpAcquire, Worker: "g1w1", Key: "k0"},
		{T: ms(100), Ev: history.EvOK, ID: 1, Op: history.OpAcquire, Worker: "g1w1", Key: "k0", ValidNS: v(validUntilMS - 100)},
		{T: ms(110), Ev: history.EvInvoke, ID: 2, Op: history.OpCS, Worker: "g1w1", Key: "k0", ValidNS: v(validUntilMS - 110)},
		{T: ms(590), Ev: history.EvInvoke, ID: 3, Op: history.OpAcquire, Worker: "g2w1", Key: "k0"},
		{T: ms(600), Ev: history.EvOK, ID: 3, Op: history.OpAcquire, Worker: "g2w1", Key: "k0", ValidNS: v(1000)},
		{T: ms(610), Ev: history.EvInvoke, ID: 4, Op: history.OpCS, Worker: "g2w1", Key: "k0", ValidNS: v(990)},
		{T: ms(700), Ev: history.EvOK, ID: 4, Op: history.OpCS, Worker: "g2w1", Key: "k0", Read: history.Int(0), Wrote: history.Int(1), ValidNS: v(900)},
		{T: ms(900), Ev: history.EvOK, ID: 2, Op: history.OpCS, Worker: "g1w1", Key: "k0", Read: history.Int(0), Wrote: history.Int(1), ValidNS: v(validUntilMS - 900)},
	}}
}

func nodeEv(msT int64, node, ev, client, cmd string, args ...string) history.NodeEvent {
	return history.NodeEvent{T: msT * int64(time.Millisecond), Node: node, Ev: ev, Client: client, Cmd: cmd, Key: "k0", Args: args}
}

func TestEachViolationGetsTheCauseTheServersRecordProves(t *testing.T) {
	setA := func(node string) history.NodeEvent {
		return nodeEv(95, node, history.NodeCmd, "g1w1", "SET", "tokA", "PX", "1000", "NX")
	}
	setB := func(node string) history.NodeEvent {
		return nodeEv(595, node, history.NodeCmd, "g2w1", "SET", "tokB", "PX", "1000", "NX")
	}
	tests := []struct {
		name       string
		validUntil int64 // a's belief, ms since the start
		nodes      []history.NodeEvent
		cause      Cause
		story      string
	}{
		{"another client's DEL removed the holder's lock: foreign-delete", 1095, []history.NodeEvent{
			setA("n1"), nodeEv(400, "n1", history.NodeCmd, "g3w2", "DEL"), setB("n1"),
		}, CauseForeignDelete, "g3w2's DEL at 0.40s on n1 removed g1w1's lock; g2w1 took it at 0.59s while g1w1 was still inside its section"},
		{"the holder's own late release of an earlier attempt removed the lock it won: self-delete", 1095, []history.NodeEvent{
			setA("n1"), nodeEv(400, "n1", history.NodeCmd, "g1w1", "DEL"), setB("n1"),
		}, CauseSelfDelete, "g1w1's own DEL at 0.40s on n1, a late release it sent with the same value before it won this lock (an earlier attempt's, or an earlier acquisition's), removed the lock it had won; g2w1 took it at 0.59s"},
		{"a holder's own DEL before a later attempt of its own set the key again is not what lost it", 1095, []history.NodeEvent{
			nodeEv(92, "n1", history.NodeCmd, "g1w1", "SET", "tokA", "PX", "1000", "NX"), nodeEv(93, "n1", history.NodeCmd, "g1w1", "DEL"),
			setA("n1"), nodeEv(500, "n1", history.NodeCmd, "g3w2", "DEL"), setB("n1"),
		}, CauseForeignDelete, "g3w2's DEL at 0.50s on n1 removed g1w1's lock"},
		{"the key expired while its holder believed in a longer lease: belief-outlived", 30000, []history.NodeEvent{
			{T: 95 * int64(time.Millisecond), Node: "n1", Ev: history.NodeCmd, Client: "g1w1", Cmd: "SET", Key: "k0", Args: []string{"tokA", "PX", "400", "NX"}},
			nodeEv(495, "n1", history.NodeExpired, "", ""), setB("n1"),
		}, CauseBeliefOutlived, "g1w1's lock expired on n1 at 0.49s while g1w1 believed in its lease until 30.00s"},
		{"the node restarted without the key: node-forgot", 1095, []history.NodeEvent{
			setA("n1"), {T: 300 * int64(time.Millisecond), Node: "n1", Ev: history.NodeRestart, Note: "restarted: a new process holding 0 keys"}, setB("n1"),
		}, CauseNodeForgot, "n1 restarted at 0.30s without g1w1's lock (restarted: a new process holding 0 keys)"},
		{"the key expired long before its TTL on a node whose clock ran ahead: early-expiry", 1095, []history.NodeEvent{
			setA("n1"), {T: 200 * int64(time.Millisecond), Node: "n1", Ev: history.NodeNote, Note: "wall clock set to real time + 2s"},
			nodeEv(210, "n1", history.NodeExpired, "", ""), setB("n1"),
		}, CauseEarlyExpiry, "n1 expired g1w1's lock at 0.21s, 0.89s before its TTL ran out (wall clock set to real time + 2s)"},
		{"two holders on majorities that share no node: majority-overlap", 1095, []history.NodeEvent{
			setA("n1"), setA("n2"), setB("n3"), setB("n4"),
		}, CauseMajorityOverlap, "g1w1 held k0 on n1,n2 and g2w1 on n3,n4 at once: two sets that share no node both counted as majorities"},
		{"a renewal of the holder's extended the next holder's lock: foreign-delete", 1095, []history.NodeEvent{
			{T: 95 * int64(time.Millisecond), Node: "n1", Ev: history.NodeCmd, Client: "g1w1", Cmd: "SET", Key: "k0", Args: []string{"tokA", "PX", "400", "NX"}},
			nodeEv(495, "n1", history.NodeExpired, "", ""), setB("n1"), nodeEv(650, "n1", history.NodeCmd, "g1w1", "PEXPIRE", "1000"),
		}, CauseForeignDelete, "g1w1's renewal at 0.65s on n1 extended g2w1's lock, not its own"},
		{"the lock expired when its holder's lease said, and it wrote anyway: lease-outlived", 500, []history.NodeEvent{
			{T: 95 * int64(time.Millisecond), Node: "n1", Ev: history.NodeCmd, Client: "g1w1", Cmd: "SET", Key: "k0", Args: []string{"tokA", "PX", "400", "NX"}},
			nodeEv(495, "n1", history.NodeExpired, "", ""), setB("n1"),
		}, CauseLeaseOutlived, "g1w1's lock expired on n1 at 0.49s, as its lease said; g1w1 wrote at 0.90s anyway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(storyHistory(tc.validUntil), Options{Nodes: tc.nodes, MinCriticalSections: 1})
			if r.Overlap.Count != 1 {
				t.Fatalf("%d overlaps", r.Overlap.Count)
			}
			o := r.Overlap.Overlaps[0]
			if o.Cause != tc.cause || !strings.Contains(o.Story, tc.story) {
				t.Fatalf("cause %s, story %q; want %s, %q", o.Cause, o.Story, tc.cause, tc.story)
			}
			if r.Cause != tc.cause || !strings.Contains(r.Summary(), tc.story) {
				t.Fatalf("the verdict's cause %s and summary %q do not tell it", r.Cause, r.Summary())
			}
			if r.Overlap.Causes[tc.cause] != 1 {
				t.Fatalf("causes %v", r.Overlap.Causes)
			}
		})
	}
}

func TestWithoutANodeRecordCausesAreInferredFromBeliefsAndTheNotesSaySo(t *testing.T) {
	r := Check(storyHistory(1095), Options{MinCriticalSections: 1})
	if r.Overlap.Overlaps[0].Cause != CauseGrantedTwice || r.NodeRecord {
		t.Fatalf("cause %s, node record %v", r.Overlap.Overlaps[0].Cause, r.NodeRecord)
	}
	found := false
	for _, n := range r.Notes {
		found = found || strings.Contains(n, "inferred from the clients' beliefs only")
	}
	if !found {
		t.Fatalf("notes %v", r.Notes)
	}
	// A record that does not explain the pair keeps the belief's cause.
	r = Check(storyHistory(1095), Options{Nodes: []history.NodeEvent{}, MinCriticalSections: 1})
	if o := r.Overlap.Overlaps[0]; o.Cause != CauseGrantedTwice || o.Story != "" {
		t.Fatalf("an empty record changed the cause to %s (%q)", o.Cause, o.Story)
	}
}

func TestASlowReplyWhoseLockWasDeletedBeforeItReturnedIsTheVictimThoughItReadSecond(t *testing.T) {
	// g2w1's SET reaches n1 at 50ms but its reply only comes back at 600ms; meanwhile g3w2's late DEL removes its
	// lock at 80ms and g1w1 takes the key at 95ms. g1w1 reads first, yet the lock lost was g2w1's.
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	v := func(n int64) *int64 { return history.Int(ms(n)) }
	h := &history.History{Events: []history.Event{
		{T: ms(40), Ev: history.EvInvoke, ID: 3, Op: history.OpAcquire, Worker: "g2w1", Key: "k0"},
		{T: ms(90), Ev: history.EvInvoke, ID: 1, Op: history.OpAcquire, Worker: "g1w1", Key: "k0"},
		{T: ms(100), Ev: history.EvOK, ID: 1, Op: history.OpAcquire, Worker: "g1w1", Key: "k0", ValidNS: v(900)},
		{T: ms(110), Ev: history.EvInvoke, ID: 2, Op: history.OpCS, Worker: "g1w1", Key: "k0", ValidNS: v(890)},
		{T: ms(600), Ev: history.EvOK, ID: 3, Op: history.OpAcquire, Worker: "g2w1", Key: "k0", ValidNS: v(440)},
		{T: ms(610), Ev: history.EvInvoke, ID: 4, Op: history.OpCS, Worker: "g2w1", Key: "k0", ValidNS: v(430)},
		{T: ms(700), Ev: history.EvOK, ID: 4, Op: history.OpCS, Worker: "g2w1", Key: "k0", Read: history.Int(0), Wrote: history.Int(1), ValidNS: v(340)},
		{T: ms(800), Ev: history.EvOK, ID: 2, Op: history.OpCS, Worker: "g1w1", Key: "k0", Read: history.Int(0), Wrote: history.Int(1), ValidNS: v(200)},
	}}
	nodes := []history.NodeEvent{
		nodeEv(50, "n1", history.NodeCmd, "g2w1", "SET", "1", "PX", "1000", "NX"),
		nodeEv(80, "n1", history.NodeCmd, "g3w2", "DEL"),
		nodeEv(95, "n1", history.NodeCmd, "g1w1", "SET", "1", "PX", "1000", "NX"),
	}
	r := Check(h, Options{Nodes: nodes, MinCriticalSections: 1})
	if r.Overlap.Count != 1 {
		t.Fatalf("%d overlaps, want 1", r.Overlap.Count)
	}
	o := r.Overlap.Overlaps[0]
	want := "g3w2's DEL at 0.08s on n1 removed g2w1's lock; g1w1 took it at 0.10s, before g2w1's acquire had returned"
	if o.Cause != CauseForeignDelete || !strings.Contains(o.Story, want) {
		t.Fatalf("cause %s, story %q; want foreign-delete, %q", o.Cause, o.Story, want)
	}
}
