// Package checker judges a recorded history: did the lock keep mutual exclusion on the protected resource?
//
// Four checkers read the same history. overlap sweeps the critical sections that wrote, per key, and reports any
// two that overlap (both read before the other wrote: a lost update), explaining each one; register replays every
// critical section as an operation on a per-key counter through the porcupine linearizability checker, which
// also catches lost updates that leave no overlapping interval; fencing checks that the fencing tokens of
// accepted writes rise; liveness counts what the run achieved. Their verdicts are merged worst first, as Jepsen
// does, into one Result that is written as verdict.json and printed as one line. Beside that safety verdict,
// liveness gives a verdict of its own, ok or stuck: a key nobody could take for StuckTTLs fault-free TTLs while
// workers kept trying (a holder that crashed between SETNX and PEXPIRE) is named, without making the run invalid.
//
// Check runs them all; CheckOverlap, CheckRegister, CheckFencing and MeasureLiveness run one each. Every checker
// reads the history as it is on disk (see package history): events in any order, completions paired with their
// invocations by id (history.Pair, whose operations Result.Ops hands on to the report), a cut-off last line skipped
// by the reader. A critical section's invocation is stamped at the instant it read the protected counter and its
// completion at the instant it wrote (or gave up), both inside the resource's mutex, so the intervals the checkers
// compare are exact.
package checker
