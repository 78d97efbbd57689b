package etcd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// The harness does not import this package: the test's own import of it (etcd, in local_test.go) registers the
// system, as a blank import would in a binary of its own.

func TestTheEtcdStrategiesRunEndToEndThroughTheHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd clusters: not in -short")
	}
	tests := []struct {
		name, scenario, strategy string
		want                     checker.Verdict
		check                    func(t *testing.T, h *history.History)
		// duration overrides the scenario's, for a valid verdict that needs enough work on a loaded machine
		// (the race detector slows every client; 24 workers contend for one key through TryLock).
		duration time.Duration
	}{
		{"etcd-mutex keeps mutual exclusion when nothing goes wrong", "baseline", "etcd-mutex", checker.Valid, nil, 20 * time.Second},
		{"etcd-mutex lets a holder frozen past its TTL write after the next holder", "client-stall", "etcd-mutex",
			checker.Invalid, nil, 0},
		{"etcd-mutex-fenced has the resource refuse the frozen holder's stale write", "client-stall", "etcd-mutex-fenced",
			checker.Valid, nil, 0},
		{"etcd-mutex stays exclusive while each leader in turn is cut from its peers", "etcd-leader-isolation", "etcd-mutex",
			checker.Valid, leaderMovedAwayFromEachCut, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenarios.Load(tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			info, err := lock.Lookup(tc.strategy)
			if err != nil {
				t.Fatal(err)
			}
			res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: info.Make(), Seed: 1,
				Duration: tc.duration, OutDir: t.TempDir(), Warnings: testWriter{t}})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s in %s: %s", res.Verdict, res.Elapsed.Round(1e6), res.Summary())
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s", res.Verdict, tc.want)
			}
			assertSystem(t, res.Dir)
			if tc.check != nil {
				h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, h)
			}
		})
	}
}

// leaderMovedAwayFromEachCut checks that every peer-partition cut one member, healed it, and that each cut struck a
// member other than the one cut before: the cut leader lost the leadership to another member.
func leaderMovedAwayFromEachCut(t *testing.T, h *history.History) {
	t.Helper()
	var cut []string
	heals := 0
	for _, e := range h.Events {
		if e.Ev != history.EvFault || e.Name != "peer-partition" {
			continue
		}
		switch {
		case e.Phase == history.PhaseInject && len(e.Targets) == 1:
			cut = append(cut, e.Targets[0])
		case e.Phase == history.PhaseHeal:
			heals++
		default:
			t.Fatalf("unexpected fault event %+v", e)
		}
	}
	t.Logf("members cut in turn: %v", cut)
	if len(cut) != 3 || heals != 3 {
		t.Fatalf("%d cuts and %d heals, want 3 of each", len(cut), heals)
	}
	for i := 1; i < len(cut); i++ {
		if cut[i] == cut[i-1] {
			t.Fatalf("%s led again after its cut: %v", cut[i], cut)
		}
	}
}

// assertSystem checks that the run's record names the etcd system.
func assertSystem(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		System  string `json:"system"`
		Backend string `json:"backend"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.System != "etcd" || cfg.Backend != "local" {
		t.Fatalf("config.json records system %q on backend %q (%v)", cfg.System, cfg.Backend, err)
	}
}

// testWriter sends the run's warnings to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
