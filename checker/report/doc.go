// Package report renders report.html: one self-contained page that lets a person see what happened in a run and
// why the verdict is what it is.
//
// The page opens from disk with no network: its CSS, its script and the run's data are inline. At the top it
// gives the verdict, the summary line, each violation explained (which cause, which faults were in force) with a
// link that brings the offending pair into view, the caller's tables (liveness) and links to sibling files (the
// porcupine visualisation). Below is a timeline with one lane per worker: acquire attempts, held leases up to the
// holder's own ValidUntil, critical sections from read to write, extensions and releases, the fault windows shaded
// across every lane, and the violating pairs outlined in red. When the run kept the servers' own record
// (nodes.jsonl), a lane per lock server follows on the same time axis: each key's holder as the node saw it, how
// each hold ended (expired, deleted or overwritten by whom, lost to a restart or a failover), renewals sent by
// other clients, and the node's lifecycle; the violating pair's holds on the nodes its story names are outlined,
// and the end that took the first holder's lock is ringed. Without a record, each violation says its cause was
// inferred from the clients' beliefs only.
//
// The timeline is drawn on a canvas by the page's script from a compact JSON blob (columnar arrays, delta-coded
// times), only the part in view, so that a run of hundreds of thousands of operations stays a file of a few
// megabytes that scrolls and zooms smoothly.
//
// The package draws the operations its caller (the checker) paired, as history.Pair pairs them (Input.Ops), and
// takes the verdict, the violations and the tables as plain data, so that the page cannot disagree with the
// verdict and the package depends on package history alone.
package report
