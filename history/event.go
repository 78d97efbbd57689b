// Package history defines the record of a run: every operation's invocation and completion, every access to the
// protected resource and every fault, one JSON object per line. The harness writes it while the run goes and the
// checker reads it back, so a crashed or interrupted run can still be judged. Pair turns the events into
// operations by the one rule that both the checker's verdict and the report's page rest on.
package history

import "encoding/json"

// Event kinds, as Jepsen names them: a completion is ok (it took effect), fail (it definitely had no effect) or
// info (indeterminate: it may or may not have taken effect).
const (
	EvHeader = "header"
	EvInvoke = "invoke"
	EvOK     = "ok"
	EvFail   = "fail"
	EvInfo   = "info"
	EvFault  = "fault"
)

// Operation names recorded in a history.
const (
	OpAcquire = "acquire"
	OpExtend  = "extend"
	OpRelease = "release"
	// OpCS is one critical section on the protected resource: its invoke is stamped at the read, its completion
	// at the write (or at the moment the write was abandoned or rejected).
	OpCS = "cs"
)

// Fault phases.
const (
	PhaseInject = "inject"
	PhaseHeal   = "heal"
	// PhaseFire is a failpoint going off on a worker (a stall or a crash at a named point of its lock
	// protocol), somewhere inside the window its fault armed it in.
	PhaseFire = "fire"
)

// Reasons a critical section fails without writing.
const (
	// ReasonLeaseExpired: a careful client found its lease past ValidUntil and abandoned the write.
	ReasonLeaseExpired = "lease-expired"
	// ReasonFenced: the resource rejected the write because its fencing token was stale.
	ReasonFenced = "fenced"
	// ReasonLeaseLost: the lease told its holder the lock was lost (a failed renewal), and the holder gave up.
	ReasonLeaseLost = "lease-lost"
	// ReasonStopped: the run ended while the worker was inside its critical section; it did not write.
	ReasonStopped = "stopped"
	// ReasonClientCrash: the worker died (a client-crash fault) during the operation; Error says where.
	ReasonClientCrash = "client-crash"
)

// Event is one line of a history. Fields that do not apply to an event are omitted from its JSON.
// Times are nanoseconds since the run's start on the harness's monotonic clock.
type Event struct {
	T      int64  `json:"t"`
	Ev     string `json:"ev"`
	ID     int64  `json:"id,omitempty"`
	Op     string `json:"op,omitempty"`
	Worker string `json:"worker,omitempty"`
	Key    string `json:"key,omitempty"`

	// Fence is the lease's fencing token (acquire ok, cs ok/fail), 0 when the strategy has none.
	Fence int64 `json:"fence,omitempty"`
	// ValidNS is the holder's own belief of how long its lease stays valid, measured from T: on acquire and
	// extend completions the lease granted, on cs events the validity left at the read (invoke) or at the write
	// (completion). Negative on a cs completion means the holder wrote after its lease had run out.
	ValidNS *int64 `json:"valid_ns,omitempty"`
	// Read and Wrote are the values of the protected counter seen and written by a critical section.
	Read  *int64 `json:"read,omitempty"`
	Wrote *int64 `json:"wrote,omitempty"`
	// Reason says why a critical section did not write (lease-expired, fenced).
	Reason string `json:"reason,omitempty"`
	// Error is the error text of a failed or indeterminate operation.
	Error string `json:"error,omitempty"`
	// Note is what a person reading the history should know of a fault event: where a failpoint fired, why a
	// fault did nothing to a target.
	Note string `json:"note,omitempty"`

	// Name, Phase and Targets describe a fault event.
	Name    string   `json:"name,omitempty"`
	Phase   string   `json:"phase,omitempty"`
	Targets []string `json:"targets,omitempty"`

	// Header fields (first line only).
	Header *Header `json:"header,omitempty"`
}

// Header is the first line of a history: enough to re-judge the run and to replay it.
type Header struct {
	Version  int    `json:"version"`
	Scenario string `json:"scenario"`
	Strategy string `json:"strategy"`
	Seed     int64  `json:"seed"`
	Started  string `json:"started"`
	// MinCriticalSections is the amount of completed work below which the verdict is unknown.
	MinCriticalSections int `json:"min_critical_sections"`
	// Fenced says whether the resource enforced fencing tokens during the run.
	Fenced bool `json:"fenced,omitempty"`
	// Config is the full run configuration as recorded in config.json.
	Config json.RawMessage `json:"config,omitempty"`
}

// Int returns a pointer to v, for the optional numeric fields of an Event.
func Int(v int64) *int64 { return &v }

// FaultEvents are the fault events (injections and heals) of evs, in their order: what the checker and the report
// both turn into fault windows.
func FaultEvents(evs []Event) []Event {
	var out []Event
	for i := range evs {
		if evs[i].Ev == EvFault {
			out = append(out, evs[i])
		}
	}
	return out
}
