package report

// The timeline as the page draws it. Everything is indexed (lanes, keys, texts) so that the blob the page embeds
// is numbers, and every list of items is sorted by lane, then start, so that the page finds what is in view by
// binary search. The JSON tags are the readable form used by the golden tests; the page gets the compact form
// written by encode.go.

// Outcome codes, shared with the page's script.
const (
	outOK      = 0
	outFail    = 1
	outInfo    = 2
	outPending = 3 // no completion: the worker crashed or the run ended first
)

// How a lease ended, shared with the page's script.
const (
	endReleased   = 0 // the holder released it while it still believed it valid
	endExpired    = 1 // its ValidUntil came first (the release, if any, came later)
	endSuperseded = 2 // the same holder acquired the same key again without releasing
	endOpen       = 3 // the history ends with no release and no known validity
)

// timeline is what the page draws.
type timeline struct {
	// End is the last instant of the run (the latest event), in ns since its start.
	End   int64    `json:"end"`
	Lanes []string `json:"lanes"`
	Keys  []string `json:"keys"`
	// Texts holds the reasons and error messages that items refer to by index.
	Texts    []string  `json:"texts"`
	Acquires []attempt `json:"acquires"`
	Extends  []attempt `json:"extends"`
	Releases []attempt `json:"releases"`
	Leases   []lease   `json:"leases"`
	CS       []section `json:"cs"`
	Faults   []fault   `json:"faults"`
	Marks    []mark    `json:"marks"`
	// Stuck are the stuck keys, drawn on the track under the faults; none when the caller gave none.
	Stuck []stuckMark `json:"stuck,omitempty"`
	// Notes are remarks about what could not be drawn (completions without a worker, say).
	Notes []string `json:"notes,omitempty"`
	// The servers' side, empty when the run has no node record (see nodeLanes).
	nodeLanes
}

// attempt is an acquire, extend or release: a thin bar from invocation to completion.
type attempt struct {
	Lane  int   `json:"lane"`
	Key   int   `json:"key"`
	ID    int64 `json:"id"`
	T0    int64 `json:"t0"`
	T1    int64 `json:"t1"`
	Out   int   `json:"out"`
	Fence int64 `json:"fence,omitempty"`
	// Valid is the validity granted (acquire and extend ok), when HasValid.
	Valid    int64 `json:"valid,omitempty"`
	HasValid bool  `json:"has_valid,omitempty"`
	// Err indexes Texts; -1 when there is no error text.
	Err int `json:"err"`
}

// lease is a held lock as its holder saw it: from the acquire's ok to the earlier of its release and its
// ValidUntil (pushed on by each successful extension).
type lease struct {
	Lane int   `json:"lane"`
	Key  int   `json:"key"`
	ID   int64 `json:"id"` // the acquire's id
	T0   int64 `json:"t0"`
	T1   int64 `json:"t1"` // where the bar ends
	// ValidUntil is the holder's last belief of when the lease runs out, when HasValid.
	ValidUntil int64 `json:"valid_until,omitempty"`
	HasValid   bool  `json:"has_valid,omitempty"`
	EndBy      int   `json:"end_by"`
	// Release is when the holder released it (the release's invocation), when HasRelease; after T1 when the
	// lease had expired first.
	Release    int64 `json:"release,omitempty"`
	HasRelease bool  `json:"has_release,omitempty"`
	Fence      int64 `json:"fence,omitempty"`
	Extends    int   `json:"extends,omitempty"`
}

// section is a critical section: from its read to its write (or to when it gave up).
type section struct {
	Lane int   `json:"lane"`
	Key  int   `json:"key"`
	ID   int64 `json:"id"`
	T0   int64 `json:"t0"`
	T1   int64 `json:"t1"`
	Out  int   `json:"out"`
	// Reason indexes Texts (lease-expired, fenced, …, or the error of an info); -1 for none.
	Reason   int   `json:"reason"`
	Fence    int64 `json:"fence,omitempty"`
	Read     int64 `json:"read"`
	Wrote    int64 `json:"wrote"`
	HasRead  bool  `json:"has_read,omitempty"`
	HasWrote bool  `json:"has_wrote,omitempty"`
	// ValidRead and ValidWrite are the holder's remaining validity at the read and at the write.
	ValidRead     int64 `json:"valid_read,omitempty"`
	ValidWrite    int64 `json:"valid_write,omitempty"`
	HasValidRead  bool  `json:"has_valid_read,omitempty"`
	HasValidWrite bool  `json:"has_valid_write,omitempty"`
}

// fault is one fault window, shaded across every lane.
type fault struct {
	Name    string   `json:"name"`
	Targets []string `json:"targets,omitempty"`
	From    int64    `json:"from"`
	To      int64    `json:"to"`
	// Healed is false when the history has no heal: To is then the end of the run.
	Healed bool `json:"healed"`
	// Row is the line of the fault track its label goes on, so that overlapping windows do not hide each other.
	Row int `json:"row"`
}

// mark is a violation as the timeline highlights it.
type mark struct {
	N     int    `json:"n"` // V1, V2, …
	Key   string `json:"key"`
	Cause string `json:"cause"`
	// From and To bound the overlap: the later read to the earlier write.
	From  int64     `json:"from"`
	To    int64     `json:"to"`
	Parts []markEnd `json:"parts"`
	// Holds are the pair's holds on the nodes the violation's story happens on, highlighted on the node lanes.
	Holds []markHold `json:"holds,omitempty"`
}

// markHold is one hold of a violating pair on a node lane.
type markHold struct {
	// Hold indexes timeline.Holds; Part is 0 for the first holder (A), 1 for the second (B).
	Hold int `json:"hold"`
	Part int `json:"part"`
	// Lost: this is the first holder's hold, ended before the second's began there, so its end is the event
	// that took the lock from it (a DEL, an expiry, a restart…).
	Lost bool `json:"lost,omitempty"`
}

// markEnd is one section of a violating pair.
type markEnd struct {
	Worker string `json:"worker"`
	// Lane is -1 when the worker has no lane (then only the summary shows it).
	Lane int   `json:"lane"`
	T0   int64 `json:"t0"`
	T1   int64 `json:"t1"`
	// CS indexes timeline.CS; -1 when no section of the history matches.
	CS int `json:"cs"`
}

// stuckMark is a stuck key as the timeline draws it: a span on its own row of the track above the lanes (the
// lanes are workers, not keys), S1, S2, … in the caller's order.
type stuckMark struct {
	N         int    `json:"n"`
	Key       string `json:"key"`
	From      int64  `json:"from"`
	To        int64  `json:"to"`
	FaultFree int64  `json:"fault_free"`
	Attempts  int    `json:"attempts"`
	Last      string `json:"last"`
}

// nodeLanes is what the servers' own record adds to the timeline: a lane per node, a row per lock key inside it,
// each key's holds on that node as bars. Rows are numbered node × len(NodeKeys) + key, and holds and renewals are
// sorted by row, then start, like the workers' items, so that the page finds what is in view by binary search.
type nodeLanes struct {
	// NodeRecord says the run had a node record (possibly empty).
	NodeRecord bool     `json:"node_record,omitempty"`
	Nodes      []string `json:"nodes,omitempty"`
	NodeKeys   []string `json:"node_keys,omitempty"`
	// Who names the holders and the clients that ended or renewed holds, which holds refer to by index.
	Who        []string    `json:"who,omitempty"`
	Holds      []hold      `json:"holds,omitempty"`
	Renewals   []renewal   `json:"renewals,omitempty"`
	NodeEvents []nodeEvent `json:"node_events,omitempty"`
	NodeDown   []nodeDown  `json:"node_down,omitempty"`
}

// hold is one client's hold of a key on a node, as the node saw it.
type hold struct {
	Row   int   `json:"row"`
	Owner int   `json:"owner"` // indexes Who; -1 when the record names no client
	T0    int64 `json:"t0"`
	T1    int64 `json:"t1"` // the end of the run when the hold outlived the record
	// End indexes Texts ("expired", "deleted", …), -1 while still held; By indexes Who, -1 for none.
	End int `json:"end"`
	By  int `json:"by"`
}

// renewal is a tick on a hold: another client's renewal of it.
type renewal struct {
	Row  int   `json:"row"`
	T    int64 `json:"t"`
	By   int   `json:"by"`   // indexes Who, -1 when unknown
	Hold int   `json:"hold"` // indexes Holds
}

// nodeEvent is a lifecycle event of a node: a marker on its lane.
type nodeEvent struct {
	Node int    `json:"node"`
	T    int64  `json:"t"`
	Kind string `json:"kind"` // up, down, restart, moved, note
	Note string `json:"note,omitempty"`
}

// nodeDown is a stretch a node was down: from a down event to the node's next up or restart (or the end of the
// run), shaded across its lane.
type nodeDown struct {
	Node   int   `json:"node"`
	From   int64 `json:"from"`
	To     int64 `json:"to"`
	Healed bool  `json:"healed"`
}
