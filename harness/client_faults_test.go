package harness_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// runClientFault runs lua for a few seconds with workers workers on one key and one client fault aimed at worker
// g1w1, and returns the history. Workers think longer than they hold, so the key is free most of the time and a
// rival cannot starve g1w1 of the section its fault waits for.
func runClientFault(t *testing.T, workers int, fault string) *history.History {
	t.Helper()
	sc, err := scenarios.Parse("client-fault", "client-fault.yaml", []byte(`description: one client fault on g1w1
duration: 8s
groups: 1
workers: `+strconv.Itoa(workers)+`
keys: 1
ttl: 1s
hold: {min: 50ms, max: 100ms}
think: {min: 100ms, max: 200ms}
min_critical_sections: 1
faults:
  - `+fault+`
    workers: [g1w1]
    at: 500ms
    for: 6s
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 3, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAStalledWorkerResumesAfterItsStallAndWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	// g1w1 works alone: with a rival on the one key, its backed-off retries can miss every free moment of the
	// fault's window on a loaded machine, and the stall would never be reached.
	h := runClientFault(t, 1, "kind: client-stall\n    stall: 1500ms")
	reads := map[int64]int64{}
	for _, e := range h.Events {
		if e.Worker == "g1w1" && e.Op == history.OpCS && e.Ev == history.EvInvoke {
			reads[e.ID] = e.T
		}
		if e.Op == history.OpCS && e.Ev == history.EvOK {
			if at, ok := reads[e.ID]; ok && time.Duration(e.T-at) >= 1500*time.Millisecond {
				return // the stalled section wrote, 1.5 s or more after its read
			}
		}
	}
	t.Fatal("no critical section of g1w1 wrote after a stall of 1.5s")
}

func TestACrashedWorkerNeverReleasesNorComesBack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	h := runClientFault(t, 2, "kind: client-crash")
	var crashedAt int64 = -1
	for _, e := range h.Events {
		switch {
		case e.Worker != "g1w1":
		case e.Op == history.OpCS && e.Reason == "client-crash":
			crashedAt = e.T
		case crashedAt >= 0 && e.Ev == history.EvInvoke:
			t.Fatalf("g1w1 started %s after it crashed", e.Op)
		}
	}
	if crashedAt < 0 {
		t.Fatal("g1w1 never crashed")
	}
	// Its lock was never released: the other worker could take it only once the TTL had run out.
	for _, e := range h.Events {
		if e.Worker == "g1w2" && e.Op == history.OpAcquire && e.Ev == history.EvOK && e.T > crashedAt {
			if d := time.Duration(e.T - crashedAt); d < 900*time.Millisecond {
				t.Fatalf("g1w2 acquired %s after the crash, before the dead holder's TTL ran out", d)
			}
			return
		}
	}
	t.Fatal("g1w2 never acquired the lock after the crash")
}
