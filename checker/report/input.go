package report

import "github.com/redlock-harness/redlock-harness/history"

// Input is everything the page shows. The caller (the checker) fills it: the report draws the operations the
// checker judged and takes the judgement as given, so the page can never disagree with verdict.json.
type Input struct {
	// History is the run as read back from history.jsonl; its header names the scenario, strategy and seed, and
	// its fault events are drawn as fault windows.
	History *history.History
	// Ops are History's operations as the checker paired them (checker.Result.Ops), which the timeline draws.
	// Passing the checker's own rather than pairing again is what keeps the page from drawing operations other
	// than those the verdict was reached on. Nil pairs History's events here, with the same history.Pair.
	Ops []history.Op
	// Verdict is "valid", "invalid" or "unknown"; it picks the colour of the banner.
	Verdict string
	// Summary is the one-line verdict the terminal prints.
	Summary string
	// Violations are the counterexamples to explain and highlight, earliest first. The page numbers them V1, V2, ….
	Violations []Violation
	// Tables are shown under the violations in order, the liveness figures among them.
	Tables []Table
	// Links maps a relative path next to report.html (e.g. "linearizability.html") to its label. Only relative
	// paths are accepted, so the page never reaches for the network.
	Links map[string]string
	// Notes are remarks about the history (a cut-off last line, repeated ids) shown under the summary.
	Notes []string
	// Liveness is the liveness verdict beside the safety one: "ok", "stuck", or "" when the caller has none
	// (then the page shows no liveness verdict). A stuck key is no violation of mutual exclusion, so it gets a
	// badge and a list of its own rather than a place among the violations.
	Liveness string
	// LivenessReason says in one sentence what the liveness verdict means (the threshold it applied).
	LivenessReason string
	// Stuck are the keys nobody could take, shown in a table and marked on the timeline's track.
	Stuck []StuckSpan
	// Nodes is the servers' own record of the run, drawn as one lane per node under the workers' lanes; nil when
	// the run kept none, and then the page says that each cause was inferred from the clients' beliefs only.
	Nodes *NodeRecord
}

// StuckSpan is a key nobody could take, as the checker's liveness verdict reports it: plain data, so that the
// report does not depend on the checker's types.
type StuckSpan struct {
	Key string
	// From and To bound the stuck stretch, in nanoseconds since the run's start: from the key's last grant (or
	// the indeterminate acquire blamed) to its next grant or the end of the run.
	From, To int64
	// FaultFree is the part of the stretch outside every fault window, in nanoseconds.
	FaultFree int64
	// Attempts counts the acquires of the key invoked in the stretch.
	Attempts int
	// Last says who took the key last and what became of them.
	Last string
}

// Violation is one counterexample: two critical sections on one key that broke mutual exclusion. It is plain
// data so that the checker can fill it from its own findings without the report knowing the checker's types.
type Violation struct {
	Key string
	// A is the section that read first, B the other. B may be the zero Interval when a violation involves a
	// single section (a stale write accepted, say); then only A is highlighted.
	A, B Interval
	// Cause is one of the checker's causes: "lease-outlived" (the earlier holder wrote after its own
	// ValidUntil: the client's fault), "granted-twice" (both believed their leases valid at once: the lock
	// service's fault), "unexplained", "lost-update" or "stale-fence". Other values are shown as they are.
	Cause string
	// Faults names the faults in force while the pair overlapped.
	Faults []string
	// Story tells in one sentence how the servers' record shows the pair came about (another client's DEL, a key
	// expired under a holder that still believed in it, a node that restarted empty), and Nodes names the nodes
	// it happens on: their holds of the pair are highlighted on the node lanes. Both are empty when the record
	// does not explain the pair, or there is none.
	Story string
	Nodes []string
	// BeliefCause is the cause the clients' beliefs alone suggested, shown beside Cause when the record proved
	// another (a holder whose renewal failed silently looks, to its beliefs, like a lock granted twice). Empty
	// when the cause was not checked against a node record.
	BeliefCause string
	// Explanation is the caller's own account; when empty the page explains the cause in general terms.
	Explanation string
}

// Interval is one critical section as a violation names it: who, when it read and wrote (nanoseconds since the
// run's start), the values it read and wrote, and its fencing token (0 when the strategy has none).
type Interval struct {
	// ID is the section's operation id in the history; 0 when unknown. When set, it picks the section exactly;
	// otherwise the section is found by worker and read instant.
	ID     int64
	Worker string
	ReadT  int64
	WriteT int64
	Read   int64
	Wrote  int64
	Fence  int64
}

// Table is a titled table of text cells, as the checker's liveness figures are shown. Cells are text, not
// HTML, so whatever the caller puts there cannot break the page.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	// Note is an optional line under the table (what the figures count, say).
	Note string
}

// NodeRecord is what the lock servers themselves saw happen to the lock keys (the run's nodes.jsonl), as the
// page draws it: one lane per node, beside the workers' lanes and on the same clock, so that what a client
// believed can be read against what the servers did. It is plain data the caller derives from the record (the
// checker's tenures), so that the report does not depend on the checker; the page draws holds, not the tens of
// thousands of commands behind them.
type NodeRecord struct {
	// Tenures are the holds of each lock key on each node, in any order.
	Tenures []Tenure
	// Events are the nodes' lifecycle events (up, down, restart, moved, note); other kinds are ignored.
	Events []history.NodeEvent
}

// Tenure is one client's hold of a lock key on one node, as the node's own record shows it.
type Tenure struct {
	Node, Key, Owner string
	// From and To bound the hold in nanoseconds since the run's start; To is 0 when the hold lasted to the end of
	// the record.
	From, To int64
	// End says how the hold ended: "expired", "deleted", "overwritten", "restart", "moved" ("" while held); By
	// names the client that deleted or overwrote it.
	End, By string
	// Foreign are renewals of this hold sent by clients other than its owner: a renewal that checks no owner
	// extends whoever holds the key, and the client that sent it goes on believing in its own lock.
	Foreign []Renewal
}

// Renewal is a renewal of a hold by another client: when it reached the node and who sent it ("" when the
// record does not say).
type Renewal struct {
	At int64
	By string
}
