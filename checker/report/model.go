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
