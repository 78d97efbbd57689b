package report

import "github.com/redlock-harness/redlock-harness/history"

// Input is everything the page shows. The caller (the checker) fills it: the report computes the timeline from
// History and takes the judgement as given, so the page can never disagree with verdict.json.
type Input struct {
	// History is the run as read back from history.jsonl; its header names the scenario, strategy and seed.
	History *history.History
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
