package checker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// Causes the servers' own record (nodes.jsonl) proves. Without a record, a violation's cause is inferred from the
// clients' beliefs alone (lease-outlived, granted-twice), and can be wrong: a holder whose renewal failed silently
// believes in a lease the servers have already ended, which reads as granted twice.
const (
	// CauseForeignDelete: a DEL (or a SET, or a renewal) from a client that did not own the key removed or
	// extended the holder's lock.
	CauseForeignDelete Cause = "foreign-delete"
	// CauseSelfDelete: the holder's own DEL removed the lock it held: a release sent by an earlier, failed attempt
	// of the same acquisition, with the same value, arrived late and deleted what a later attempt had won (a lock
	// that keeps one random value across its retries, as Redlock's description and redsync do).
	CauseSelfDelete Cause = "self-delete"
	// CauseBeliefOutlived: the holder's key expired on the servers while its lease still claimed validity (a
	// watchdog whose renewal failed silently; a lock that over-states its validity).
	CauseBeliefOutlived Cause = "belief-outlived"
	// CauseNodeForgot: a node restarted empty, or a replica was promoted in its place, without the holder's lock.
	CauseNodeForgot Cause = "node-forgot"
	// CauseEarlyExpiry: a node's clock ran ahead and expired the key before its TTL.
	CauseEarlyExpiry Cause = "early-expiry"
	// CauseMajorityOverlap: two holders held majorities at once that share no node.
	CauseMajorityOverlap Cause = "majority-overlap"
)

// explainOverlaps reads each listed overlap's cause from the servers' record: how the first holder's lock ended
// on the node(s) the second holder then took. An overlap the record cannot explain keeps the cause inferred from
// the clients' beliefs. The causes counted are recounted over the listed pairs.
func explainOverlaps(res *OverlapResult, ix *index, nodes []history.NodeEvent) {
	led := buildLedger(nodes)
	for i := range res.Overlaps {
		ov := &res.Overlaps[i]
		ov.BeliefCause = ov.Cause
		if c, story, on := explainOne(ov, ix, led); c != "" {
			ov.Cause, ov.Story, ov.Nodes = c, story, on
		}
	}
	if len(res.Overlaps) > 0 {
		res.Causes = map[Cause]int{}
		for _, o := range res.Overlaps {
			res.Causes[o.Cause]++
		}
	}
}

// tellCuts gives the granted-twice pairs no record explained the story of the cut that separated the first
// holder from the servers, when one was in force (cutStory): what a system without a record of its own (a
// database whose server ended a cut-off holder's session) can still be told.
func tellCuts(res *OverlapResult, faults []FaultWindow) {
	for i := range res.Overlaps {
		ov := &res.Overlaps[i]
		if ov.Cause == CauseGrantedTwice && ov.Story == "" {
			ov.Story = cutStory(faults, *ov)
		}
	}
}

// grant is a holder's acquire that granted the section: the latest ok acquire of the key by the worker that
// completed before the section's read.
func grant(ix *index, worker, key string, read time.Duration) (history.Op, bool) {
	var g history.Op
	found := false
	for _, a := range ix.acquires {
		if a.Worker == worker && a.Key == key && a.Outcome == history.OutOK && a.End <= int64(read) && (!found || a.End > g.End) {
			g, found = a, true
		}
	}
	return g, found
}

// holds returns the worker's tenures of key, one per node, that were in force at some instant of [from, to].
func holds(led *ledger, worker, key string, from, to int64) map[string]*tenure {
	out := map[string]*tenure{}
	for _, n := range led.nodes {
		for _, t := range led.byNodeKey[n+"/"+key] {
			if t.owner == worker && t.from <= to && (t.to == 0 || t.to >= from) {
				out[n] = t
			}
		}
	}
	return out
}

func explainOne(ov *Overlap, ix *index, led *ledger) (Cause, string, []string) {
	a, b := ov.First, ov.Second
	ga, okA := grant(ix, a.Worker, ov.Key, a.ReadAt)
	gb, okB := grant(ix, b.Worker, ov.Key, b.ReadAt)
	if !okA || !okB {
		return "", "", nil
	}
	ta := holds(led, a.Worker, ov.Key, ga.Start-int64(time.Millisecond), int64(a.ReadAt))
	tb := holds(led, b.Worker, ov.Key, gb.Start-int64(time.Millisecond), int64(b.ReadAt))
	if c, story, n := renewedOthers(a, tb); c != "" {
		return c, story, n
	}
	if c, story, n := explainLoss(ov.Key, a, b, ta, tb, gb, led); c != "" {
		return c, story, n
	}
	// The pair is ordered by their reads, not by their locks on the servers: on a slow network the second to
	// read may have been the first to hold the key (its SET arrived long before its reply), and lost it before the
	// first reader took it.
	if c, story, n := explainLoss(ov.Key, b, a, tb, ta, ga, led); c != "" && c != CauseMajorityOverlap {
		return c, story, n
	}
	return renewedOthers(b, ta)
}

// explainLoss tells how holder a, with tenures ta on the servers, lost key to holder b (tenures tb, granted by gb).
func explainLoss(key string, a, b CriticalSection, ta, tb map[string]*tenure, gb history.Op, led *ledger) (Cause, string, []string) {
	if len(ta) == 0 {
		return "", "", nil
	}
	if len(tb) == 0 {
		// The record missed the second holder's grant (a node restarted, and commands came in before the record
		// reattached to it): how the first holder lost the key before it is still told.
		return lostBefore(ta, a, b, gb.End, led)
	}
	var shared []string
	for n := range ta {
		if tb[n] != nil {
			shared = append(shared, n)
		}
	}
	slices.Sort(shared)
	prefix := ""
	if len(ta) > 1 || len(tb) > 1 {
		prefix = fmt.Sprintf("%s held %s on %s and %s took it on %s: ", a.Worker, key, nodeList(ta), b.Worker, nodeList(tb))
		if len(shared) == 0 {
			return CauseMajorityOverlap, fmt.Sprintf("%s held %s on %s and %s on %s at once: two sets that share no node both counted as majorities",
				a.Worker, key, nodeList(ta), b.Worker, nodeList(tb)), append(keys(ta), keys(tb)...)
		}
	}
	for _, n := range shared {
		t := ta[n]
		if t.to == 0 || t.to > tb[n].from {
			continue // still held there when the second took it: not how it was lost
		}
		if c, story := lost(t, a, b, tb[n], led); c != "" {
			return c, prefix + story, shared
		}
	}
	return "", "", nil
}

// lostBefore tells how the first holder lost the key on one of its nodes before the second holder's grant (at gb),
// when the record has the first holder's side only.
func lostBefore(ta map[string]*tenure, a, b CriticalSection, gb int64, led *ledger) (Cause, string, []string) {
	for _, n := range keys(ta) {
		t := ta[n]
		if t.to == 0 || t.to > gb {
			continue
		}
		stand := &tenure{from: gb, owner: b.Worker}
		if c, story := lost(t, a, b, stand, led); c != "" {
			return c, story, []string{n}
		}
	}
	return "", "", nil
}

// renewedOthers finds a renewal the first holder sent that extended the second holder's lock instead of its own.
func renewedOthers(a CriticalSection, tb map[string]*tenure) (Cause, string, []string) {
	for n, t := range tb {
		for _, f := range t.foreign {
			if f.by == a.Worker && f.at <= int64(a.WroteAt) {
				return CauseForeignDelete, fmt.Sprintf("%s's renewal at %s on %s extended %s's lock, not its own, and %s went on believing it held the lock",
					a.Worker, fmtDur(time.Duration(f.at)), n, t.owner, a.Worker), []string{n}
			}
		}
	}
	return "", "", nil
}

// lost says how the first holder's tenure t ended before the second holder took the key (its tenure tb).
func lost(t *tenure, a, b CriticalSection, tb *tenure, led *ledger) (Cause, string) {
	at := fmtDur(time.Duration(t.to))
	then := fmt.Sprintf("; %s took it at %s while %s was still inside its section", b.Worker, fmtDur(time.Duration(tb.from)), a.Worker)
	if int64(a.ReadAt) > tb.from {
		then = fmt.Sprintf("; %s took it at %s, before %s's acquire had returned, and %s went into its section on a lock it no longer had",
			b.Worker, fmtDur(time.Duration(tb.from)), a.Worker, a.Worker)
	}
	switch t.end {
	case endDeleted, endReplaced:
		if t.by == "" {
			return "", ""
		}
		if t.by == a.Worker {
			if t.end != endDeleted || led.triedSince(t.node, t.key, a.Worker, t.to, int64(a.ReadAt)) {
				return "", "" // or a later attempt of its own set the key again: this hold was not the one it won
			}
			// Its own DEL while it was still inside its section on this lock: not the release of this grant
			// (that comes after the write), so one sent by an earlier attempt that reached the node late.
			return CauseSelfDelete, fmt.Sprintf("%s's own DEL at %s on %s, a late release it sent with the same value before it won this lock (an earlier attempt's, or an earlier acquisition's), removed the lock it had won%s",
				a.Worker, at, t.node, then)
		}
		how := "DEL"
		if t.end == endReplaced {
			how = "SET"
		}
		return CauseForeignDelete, fmt.Sprintf("%s's %s at %s on %s removed %s's lock%s", t.by, how, at, t.node, a.Worker, then)
	case endRestart:
		return CauseNodeForgot, fmt.Sprintf("%s restarted at %s without %s's lock (%s)%s", t.node, at, a.Worker,
			led.noteBefore(t.node, t.to, "restarted"), then)
	case endMoved:
		return CauseNodeForgot, fmt.Sprintf("%s failed over at %s: the promoted replica did not have %s's lock%s", t.node, at, a.Worker, then)
	case endExpired:
		return expired(t, a, then, led)
	}
	return "", ""
}

// earlyBy is how much sooner than its TTL said a key must expire to count as expired early (a clock ahead):
// more than the notification's own delay (Redis's expiry cycle runs ten times a second).
const earlyBy = 150 * int64(time.Millisecond)

// beliefMargin is how long a holder's belief may outlast its key's expiry before it counts as outliving it: the
// time between a SET and its arrival on the node, which the holder's lease honestly includes.
const beliefMargin = 10 * int64(time.Millisecond)

func expired(t *tenure, a CriticalSection, then string, led *ledger) (Cause, string) {
	at := fmtDur(time.Duration(t.to))
	if t.expires > 0 && t.to < t.expires-earlyBy {
		clock := led.noteBefore(t.node, t.to, "wall clock")
		if clock != "" {
			clock = " (" + clock + ")"
		}
		return CauseEarlyExpiry, fmt.Sprintf("%s expired %s's lock at %s, %s before its TTL ran out%s%s", t.node, a.Worker, at,
			fmtDur(time.Duration(t.expires-t.to)), clock, then)
	}
	// The belief outlived the key: by more than a SET's transit, or at all when the holder wrote inside it (it did
	// what its lease said; the lease said too much).
	if vu, ok := a.ValidUntil(); ok && (int64(vu) > t.to+beliefMargin || (int64(vu) > t.to && a.WroteAt <= vu)) {
		clock := led.noteBefore(t.node, t.to, "wall clock")
		if clock != "" {
			clock = " (" + t.node + "'s " + clock + ")"
		}
		return CauseBeliefOutlived, fmt.Sprintf("%s's lock expired on %s at %s while %s believed in its lease until %s%s%s",
			a.Worker, t.node, at, a.Worker, fmtDur(vu), clock, then)
	}
	return CauseLeaseOutlived, fmt.Sprintf("%s's lock expired on %s at %s, as its lease said; %s wrote at %s anyway",
		a.Worker, t.node, at, a.Worker, fmtDur(a.WroteAt))
}

func keys(m map[string]*tenure) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func nodeList(m map[string]*tenure) string { return strings.Join(keys(m), ",") }
