// Package harness runs one scenario against one lock strategy, end to end: it starts the Redis nodes and the
// network between them and the clients, runs the workers while the nemesis injects the scenario's faults, streams
// the history to disk, then heals everything, stops everything and judges the history. Run is the public entry
// point, for the CLI and for a library author testing their own lock from `go test`.
package harness

import (
	"fmt"
	"io"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/system"
	// The built-in systems, so that every program running the harness has them (and the etcd members, which are
	// this program re-executed, can start from it).
	_ "github.com/redlock-harness/redlock-harness/harness/system/etcd"
	_ "github.com/redlock-harness/redlock-harness/harness/system/postgres"
	_ "github.com/redlock-harness/redlock-harness/harness/system/redis"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// Config describes one run.
type Config struct {
	// Scenario is the fault scenario (scenarios.Load or MustLoad).
	Scenario *scenarios.Scenario
	// Strategy is the lock under test: a built-in one (lock.Lookup(name).Make()) or your own.
	Strategy lock.Strategy
	// Seed derives every random choice of the run: holds, keys, tokens, fault targets.
	Seed int64
	// Duration overrides the scenario's duration when positive.
	Duration time.Duration
	// System is the kind of lock server the strategy locks against; nil means the strategy's own (system.For: its
	// registry entry's, or the first system that takes it).
	System system.System
	// Backend runs the nodes; nil means the system's backend named BackendName.
	Backend cluster.Backend
	// BackendName names the system's backend when Backend is nil ("local", "docker"); empty means the system's
	// default, local processes.
	BackendName string
	// OutDir is the results root; default "results".
	OutDir string
	// Fenced makes the resource enforce fencing tokens. Nil means: as the strategy's registry entry says (false
	// for a strategy that is not registered).
	Fenced *bool
	// LockOptions are applied after the scenario's lock settings.
	LockOptions []lock.Option
	// ToxiproxyAPI, when set (e.g. 127.0.0.1:8474), serves the embedded Toxiproxy's HTTP API during the run.
	ToxiproxyAPI string
	// CheckTimeout bounds the linearizability check; default 60s.
	CheckTimeout time.Duration
	// Progress receives a live progress line; nil is silent.
	Progress io.Writer
	// ProgressTTY says Progress is a terminal: the line is redrawn in place instead of printed every few seconds.
	ProgressTTY bool
	// Warnings receives what went wrong without stopping the run (a heal that timed out, a teardown step left
	// behind); default os.Stderr.
	Warnings io.Writer
	// NoNodeRecord turns off the servers' own record of the lock keys (nodes.jsonl), from which violations' causes
	// are read; without it causes are inferred from the clients' beliefs alone. The record costs the nodes a
	// MONITOR connection each (see `make bench`).
	NoNodeRecord bool
	// StopOnViolation ends the run as soon as the protected resource sees a lost update (two critical sections
	// overlapped), instead of running to the end of the scenario; the checker then judges the history recorded so
	// far. For runs whose only question is whether a lock known to be broken is still caught (gate, mutants).
	StopOnViolation bool
	// Grace is how long the run may take past its duration (or past Ctrl-C) to stop, heal, judge and report
	// before its watchdog tears it down with an unknown verdict; default DefaultGrace + CheckTimeout.
	Grace time.Duration
}

// Result is what a run found.
type Result struct {
	Scenario string `json:"scenario"`
	Strategy string `json:"strategy"`
	Seed     int64  `json:"seed"`
	// Dir is the run's results directory.
	Dir string `json:"dir"`
	// Verdict is the merged verdict of every checker.
	Verdict checker.Verdict `json:"verdict"`
	// Check is the checker's full result.
	Check checker.Result `json:"check"`
	// Interrupted says the run was cut short (Ctrl-C); its history is on disk but it was not judged.
	Interrupted bool `json:"interrupted,omitempty"`
	// Elapsed is how long the workload ran.
	Elapsed time.Duration `json:"elapsed"`
	// StoppedEarly says the run ended at its first violation (Config.StopOnViolation).
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// Lag is how late the harness's own goroutines woke up while the workload ran: a run on an overloaded
	// machine says so in its notes (SchedLag.Overloaded).
	Lag SchedLag `json:"sched_lag"`
}

// Summary is the run's one-line verdict with its counterexample and where the results are.
func (r Result) Summary() string {
	if r.Interrupted && r.Dir == "" {
		return fmt.Sprintf("%s/%s seed %d: interrupted while its nodes started; nothing was recorded", r.Scenario, r.Strategy, r.Seed)
	}
	if r.Interrupted {
		return fmt.Sprintf("%s/%s seed %d: interrupted after %s; history in %s (re-judge with `redlock-harness check %s`)",
			r.Scenario, r.Strategy, r.Seed, r.Elapsed.Round(time.Millisecond), r.Dir, r.Dir)
	}
	return fmt.Sprintf("%s/%s seed %d: %s — %s/report.html", r.Scenario, r.Strategy, r.Seed, r.Check.Summary(), r.Dir)
}
