package checker

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// tenure is one client's hold of a lock key on one node, as the node's own record shows it: from the command that
// set the key to the event that removed it.
type tenure struct {
	node, key, owner string
	from             int64
	// to is when the hold ended (0: still held when the record ends); end says how, by says who ended it.
	to  int64
	end string
	by  string
	// expires is when the key's time to live runs out by the last SET or renewal on record (0: no TTL known).
	expires int64
	// foreign are renewals of this hold sent by other clients (a PEXPIRE that checks no owner).
	foreign []foreignRenewal
}

// foreignRenewal is a renewal sent by a client other than the holder.
type foreignRenewal struct {
	at int64
	by string
}

// How a tenure ends.
const (
	endExpired  = "expired"
	endDeleted  = "deleted"     // a DEL (or a script's del) by by
	endReplaced = "overwritten" // a SET without NX by by, over the holder's lock
	endRestart  = "restart"     // the node came back as a new process without the key
	endMoved    = "moved"       // a replica was promoted in the node's place
)

// ledger holds every tenure of every lock key on every node, by node and key, in time order.
type ledger struct {
	byNodeKey map[string][]*tenure
	notes     map[string][]history.NodeEvent // lifecycle notes per node (clock moves, kills)
	nodes     []string
	// sets are the times of every SET each client sent, granted or refused, by node/key/client: a client's later
	// attempt at a key tells its earlier hold there from the one it won.
	sets map[string][]int64
}

// triedSince reports whether client sent a SET of key on node within (from, to].
func (l *ledger) triedSince(node, key, client string, from, to int64) bool {
	for _, t := range l.sets[node+"/"+key+"/"+client] {
		if t > from && t <= to {
			return true
		}
	}
	return false
}

// lateExpiry bounds how late an expiry notification may come after a later SET's MONITOR line (two connections):
// an expiry within it of a hold that began just now belongs to the hold before.
const lateExpiry = 50 * int64(time.Millisecond)

// buildLedger replays the node record into tenures. A SET NX is taken as granted when the key was free by the
// record (or its TTL had run out: Redis expires lazily on access, and the notification may come later).
func buildLedger(evs []history.NodeEvent) *ledger {
	l := &ledger{byNodeKey: map[string][]*tenure{}, notes: map[string][]history.NodeEvent{}, sets: map[string][]int64{}}
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b history.NodeEvent) int { return cmpInt(a.T, b.T) })
	cur := map[string]*tenure{} // node/key → the open tenure
	for _, e := range evs {
		if !slices.Contains(l.nodes, e.Node) {
			l.nodes = append(l.nodes, e.Node)
		}
		switch e.Ev {
		case history.NodeCmd:
			if !strings.HasPrefix(e.Key, fenceKeyPrefix) {
				l.command(cur, e)
			}
		case history.NodeExpired, history.NodeEvicted:
			id := e.Node + "/" + e.Key
			if t := cur[id]; t != nil && !(e.T-t.from < lateExpiry && t.expires > e.T) {
				t.close(e.T, endExpired, "")
				delete(cur, id)
			}
		case history.NodeRestart:
			if strings.Contains(e.Note, " 0 keys") {
				l.closeNode(cur, e.Node, e.T, endRestart)
			}
			l.notes[e.Node] = append(l.notes[e.Node], e)
		case history.NodeMoved:
			l.closeNode(cur, e.Node, e.T, endMoved)
			l.notes[e.Node] = append(l.notes[e.Node], e)
		case history.NodeNote:
			l.notes[e.Node] = append(l.notes[e.Node], e)
		}
	}
	return l
}

// fenceKeyPrefix is lock.FenceKeyPrefix: the fencing counters beside the lock keys are nobody's lock.
const fenceKeyPrefix = "fence:"

func (t *tenure) close(at int64, end, by string) { t.to, t.end, t.by = at, end, by }

func (l *ledger) closeNode(cur map[string]*tenure, node string, at int64, end string) {
	for id, t := range cur {
		if t.node == node {
			t.close(at, end, "")
			delete(cur, id)
		}
	}
}

// command applies one command to the key's tenure.
func (l *ledger) command(cur map[string]*tenure, e history.NodeEvent) {
	id := e.Node + "/" + e.Key
	t := cur[id]
	if t != nil && t.expires > 0 && e.T >= t.expires {
		t.close(t.expires, endExpired, "") // expired by now, whatever the notification says
		delete(cur, id)
		t = nil
	}
	switch strings.ToUpper(e.Cmd) {
	case "SET", "SETNX", "PSETEX", "SETEX":
		l.sets[id+"/"+e.Client] = append(l.sets[id+"/"+e.Client], e.T)
		nx := e.Cmd == "SETNX" || hasArg(e.Args, "NX")
		if t != nil && nx {
			return // refused: the key is held
		}
		if t != nil {
			t.close(e.T, endReplaced, e.Client)
		}
		nt := &tenure{node: e.Node, key: e.Key, owner: e.Client, from: e.T, expires: expiryOf(e)}
		l.byNodeKey[id] = append(l.byNodeKey[id], nt)
		cur[id] = nt
	case "DEL", "UNLINK", "GETDEL":
		if t != nil {
			t.close(e.T, endDeleted, e.Client)
			delete(cur, id)
		}
	case "PEXPIRE", "EXPIRE":
		if t != nil {
			t.expires = expiryOf(e)
			if e.Client != "" && e.Client != t.owner {
				t.foreign = append(t.foreign, foreignRenewal{at: e.T, by: e.Client})
			}
		}
	case "PERSIST":
		if t != nil {
			t.expires = 0
		}
	}
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if strings.EqualFold(a, want) {
			return true
		}
	}
	return false
}

// expiryOf is when a SET … PX/EX or a PEXPIRE/EXPIRE makes the key expire, 0 when the command sets no TTL.
func expiryOf(e history.NodeEvent) int64 {
	unit := func(s string) (int64, bool) {
		switch strings.ToUpper(s) {
		case "PX":
			return int64(time.Millisecond), true
		case "EX":
			return int64(time.Second), true
		}
		return 0, false
	}
	num := func(s string) (int64, bool) {
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	switch strings.ToUpper(e.Cmd) {
	case "PEXPIRE":
		if len(e.Args) > 0 {
			if v, ok := num(e.Args[0]); ok {
				return e.T + v*int64(time.Millisecond)
			}
		}
	case "EXPIRE":
		if len(e.Args) > 0 {
			if v, ok := num(e.Args[0]); ok {
				return e.T + v*int64(time.Second)
			}
		}
	default:
		for i := 0; i+1 < len(e.Args); i++ {
			if u, ok := unit(e.Args[i]); ok {
				if v, ok := num(e.Args[i+1]); ok {
					return e.T + v*u
				}
			}
		}
	}
	return 0
}

// heldAt returns owner's tenure of key on node in force at t (or, when owner is "", anyone's), nil when none.
func (l *ledger) heldAt(node, key, owner string, t int64) *tenure {
	for _, x := range l.byNodeKey[node+"/"+key] {
		if x.from <= t && (x.to == 0 || x.to > t) && (owner == "" || x.owner == owner) {
			return x
		}
	}
	return nil
}

// lastBefore returns owner's latest tenure of key on node that began at or before t, nil when none.
func (l *ledger) lastBefore(node, key, owner string, t int64) *tenure {
	var out *tenure
	for _, x := range l.byNodeKey[node+"/"+key] {
		if x.from <= t && x.owner == owner {
			out = x
		}
	}
	return out
}

// noteBefore returns the latest lifecycle note of node at or before t that mentions what ("" when none).
func (l *ledger) noteBefore(node string, t int64, what string) string {
	out := ""
	for _, n := range l.notes[node] {
		if n.T <= t && strings.Contains(n.Note, what) {
			out = n.Note
		}
	}
	return out
}

// Tenure is one client's hold of a lock key on one node, as the node's own record shows it: the report draws one
// lane per node from them.
type Tenure struct {
	Node  string        `json:"node"`
	Key   string        `json:"key"`
	Owner string        `json:"owner"`
	From  time.Duration `json:"from_ns"`
	// To is when the hold ended, 0 when it lasted to the end of the record; End says how ("expired", "deleted",
	// "overwritten", "restart", "moved"), By who ended it when a client did.
	To  time.Duration `json:"to_ns,omitempty"`
	End string        `json:"end,omitempty"`
	By  string        `json:"by,omitempty"`
	// Foreign are the instants of renewals of the hold sent by other clients (a PEXPIRE that checks no owner).
	Foreign []time.Duration `json:"foreign,omitempty"`
}

// NodeTenures replays a node record into every hold of every lock key, sorted by node, then key, then start.
func NodeTenures(evs []history.NodeEvent) []Tenure {
	led := buildLedger(evs)
	var out []Tenure
	for _, ts := range led.byNodeKey {
		for _, t := range ts {
			x := Tenure{Node: t.node, Key: t.key, Owner: t.owner, From: time.Duration(t.from), To: time.Duration(t.to), End: t.end, By: t.by}
			for _, f := range t.foreign {
				x.Foreign = append(x.Foreign, time.Duration(f.at))
			}
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b Tenure) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmpInt(int64(a.From), int64(b.From))
	})
	return out
}
