package harness_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// Each cause the servers' record proves, produced on real nodes by the fault that makes it, and read back from the
// run's nodes.jsonl with the sentence that tells it.
func TestEachCauseIsProducedOnRealNodesAndReadFromTheirRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	tests := []struct {
		cause    checker.Cause
		strategy string
		workload string // groups, workers, hold, think: a holder that just released waits, so the others get their turn
		fault    string
		story    string
	}{
		{checker.CauseForeignDelete, "setnx-del", "groups: 1\nworkers: 3\nhold: {min: 400ms, max: 490ms}\nthink: {min: 300ms, max: 400ms}",
			"kind: client-stall\n    step: before-release\n    stall: 800ms\n    workers: [g1w1]\n    at: 200ms\n    for: 2s\n    every: 2s",
			"g1w1's DEL at"},
		{checker.CauseBeliefOutlived, "lua-watchdog", "groups: 1\nworkers: 3\nhold: {min: 1200ms, max: 1500ms}\nthink: {min: 300ms, max: 400ms}",
			"kind: client-stall\n    step: in-renewal\n    stall: 1500ms\n    workers: [g1w1]\n    at: 200ms\n    for: 2s\n    every: 2s",
			"while g1w1 believed in its lease until"},
		{checker.CauseNodeForgot, "lua", "groups: 1\nworkers: 4\nhold: {min: 400ms, max: 800ms}",
			"kind: crash-restart\n    nodes: [n1]\n    at: 500ms\n    for: 100ms\n    every: 1s",
			"n1 restarted at"},
		{checker.CauseEarlyExpiry, "lua", "groups: 1\nworkers: 4\nhold: {min: 400ms, max: 800ms}",
			"kind: clock-jump\n    nodes: [n1]\n    jump: 2s\n    at: 500ms\n    for: 300ms\n    every: 1s",
			"before its TTL ran out (wall clock set to real time + 2s)"},
		{checker.CauseMajorityOverlap, "redlock~quorum-half", "groups: 3\nworkers: 4\nhold: {min: 200ms, max: 600ms}",
			"kind: partition\n    shape: majority-minority\n    at: 300ms\n    for: 4s",
			"two sets that share no node both counted as majorities"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s under %s", tc.cause, tc.strategy), func(t *testing.T) {
			t.Parallel()
			// 8s: the faults strike from the workload's start, and the holder that takes the lock after the stalled
			// one lost it must still get to write (a section counts once written) before the run ends.
			sc, err := scenarios.Parse("cause", "cause.yaml", []byte("description: produces "+string(tc.cause)+
				"\nduration: 8s\nkeys: 1\nttl: 1s\n"+tc.workload+"\nmin_critical_sections: 1\nfaults:\n  - "+tc.fault+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			info, err := lock.Lookup(tc.strategy)
			if err != nil {
				t.Fatal(err)
			}
			// The fault makes the cause on nearly every run; the interleaving around it is the machine's, so a run
			// that missed it is followed by another seed, up to three.
			var seen []string
			for seed := int64(1); seed <= 3; seed++ {
				res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: info.Make(), Seed: seed, OutDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Check.NodeRecord {
					t.Fatal("the run kept no node record")
				}
				for _, o := range res.Check.Overlap.Overlaps {
					if o.Cause == tc.cause && strings.Contains(o.Story, tc.story) {
						t.Logf("seed %d: %s", seed, o.String())
						return
					}
					seen = append(seen, string(o.Cause)+": "+o.Story)
				}
				seen = append(seen, fmt.Sprintf("seed %d: %s", seed, res.Summary()))
			}
			t.Fatalf("no overlap caused by %s (%q) on three seeds: %s", tc.cause, tc.story, strings.Join(seen, " | "))
		})
	}
}
