package harness_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// runFailpoint runs strategy for a few seconds with one worker, g1w1, and one failpoint aimed at it, and returns the
// history. One worker alone is never kept from its lock, so the failpoint meets its point at the first chance.
func runFailpoint(t *testing.T, strategy, kind, step string) *history.History {
	t.Helper()
	stall := ""
	if kind == "client-stall" {
		stall = "\n    stall: 100ms"
	}
	sc, err := scenarios.Parse("failpoint", "failpoint.yaml", []byte(fmt.Sprintf(`description: one failpoint on g1w1
duration: 3s
groups: 1
workers: 1
keys: 1
ttl: 1s
hold: {min: 600ms, max: 700ms}
min_critical_sections: 1
faults:
  - kind: %s
    step: %s%s
    workers: [g1w1]
    at: 200ms
    for: 2500ms
`, kind, step, stall)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := lock.Lookup(strategy)
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: info.Make(), Seed: 3, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fired returns the failpoint's fire event on g1w1, or nil.
func fired(h *history.History) *history.Event {
	for i, e := range h.Events {
		if e.Ev == history.EvFault && e.Phase == history.PhaseFire && len(e.Targets) == 1 && e.Targets[0] == "g1w1" {
			return &h.Events[i]
		}
	}
	return nil
}

func TestEveryFailpointStallsOrCrashesTheWorkerAtItsPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	points := []struct{ step, strategy string }{
		{lock.StepAfterReplies, "lua"},
		{lock.StepAfterAcquire, "lua"},
		{lock.StepInRenewal, "lua"},
		{lock.StepInRenewal, "lua-watchdog-cancel"}, // the watchdog's own renewal
		{lock.StepBeforeWrite, "lua"},
		{lock.StepBeforeRelease, "lua"},
		{lock.StepBetweenSetNXAndExpire, "setnx-expire"},
		{lock.StepBetweenGetAndDel, "get-del"},
		{lock.StepBetweenGetAndExpire, "get-del"},
		{lock.StepBetweenFenceRounds, "fenced"},
		{lock.StepAfterReplies, "redlock"},
	}
	for _, p := range points {
		for _, kind := range []string{"client-stall", "client-crash"} {
			t.Run(fmt.Sprintf("a %s at %s of %s", kind, p.step, p.strategy), func(t *testing.T) {
				t.Parallel()
				h := runFailpoint(t, p.strategy, kind, p.step)
				fire := fired(h)
				if fire == nil || !strings.Contains(fire.Note, " at "+p.step) {
					t.Fatalf("no failpoint fired on g1w1 at %s: %+v", p.step, fire)
				}
				var after []history.Event
				for _, e := range h.Events {
					if e.Worker == "g1w1" && e.T > fire.T {
						after = append(after, e)
					}
				}
				if kind == "client-stall" {
					// The stalled worker goes on: it acquires again after its stall.
					for _, e := range after {
						if e.Op == history.OpAcquire && e.Ev == history.EvOK && e.T > fire.T+int64(100e6) {
							return
						}
					}
					t.Fatalf("g1w1 never acquired again after its stall at %s", p.step)
				}
				// The crashed worker completes what it was doing with the crash, and then is silent for ever.
				var completions int
				for _, e := range after {
					if e.Ev == history.EvInvoke {
						if e.Op == history.OpRelease && len(after) <= 2 {
							continue // the release it never sends, recorded with its crash
						}
						t.Fatalf("g1w1 started %s after crashing at %s", e.Op, p.step)
					}
					completions++
					if e.Reason != history.ReasonClientCrash || !strings.Contains(e.Error, "crashed at "+p.step) {
						t.Fatalf("g1w1's %s %s after the crash: reason %q, error %q", e.Op, e.Ev, e.Reason, e.Error)
					}
				}
				if completions == 0 {
					t.Fatalf("g1w1 crashed at %s with no operation recording it", p.step)
				}
			})
		}
	}
}

func TestAFailpointAtAPointTheLockDoesNotHaveArmsNothingAndSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	h := runFailpoint(t, "lua", "client-stall", lock.StepBetweenGetAndDel)
	if e := fired(h); e != nil {
		t.Fatalf("a failpoint fired on lua at a point it lacks: %+v", e)
	}
	for _, e := range h.Events {
		if e.Ev == history.EvFault && e.Phase == history.PhaseInject {
			if !strings.Contains(e.Note, "g1w1: its lock has no point between-get-and-del, not armed") {
				t.Fatalf("the injection does not say why nothing happens: %q", e.Note)
			}
			return
		}
	}
	t.Fatal("no injection recorded")
}
