package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// stuckHeal is a fault whose heal never returns: the shape of the Toxiproxy deadlock that froze heals.
type stuckHeal struct{}

func (stuckHeal) Name() string { return "stuck-heal" }

func (stuckHeal) Inject(context.Context, *fault.Env) (fault.Injection, error) {
	return fault.Injection{Targets: []string{"n1"}, Heal: func(context.Context) error { select {} }}, nil
}

var registerStuck sync.Once

// syncBuffer is a writer the run's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAHealThatNeverReturnsIsRecordedAsTimedOutAndTheRunGoesOnToItsVerdict(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	// Not in parallel: it shortens the heal timeout of every run in the process.
	registerStuck.Do(func() {
		fault.Register(fault.Kind{Name: "stuck-heal", Summary: "a heal that never returns (tests only)",
			New: func() fault.Fault { return &stuckHeal{} }})
	})
	old := fault.HealTimeout
	fault.HealTimeout = 300 * time.Millisecond
	defer func() { fault.HealTimeout = old }()
	sc, err := scenarios.Parse("stuck", "stuck.yaml", []byte(`description: a fault whose heal hangs
duration: 2s
groups: 1
workers: 2
hold: {min: 5ms, max: 20ms}
min_critical_sections: 1
faults:
  - kind: stuck-heal
    at: 300ms
    for: 300ms
`))
	if err != nil {
		t.Fatal(err)
	}
	var warnings syncBuffer
	start := time.Now()
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 1,
		OutDir: t.TempDir(), Warnings: &warnings})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the run took %s", d)
	}
	if res.Verdict != checker.Valid {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Summary())
	}
	if !strings.Contains(warnings.String(), "heal of stuck-heal on n1 timed out") {
		t.Fatalf("no warning about the heal: %q", warnings.String())
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Events {
		if e.Ev == history.EvFault && e.Phase == history.PhaseHeal && strings.Contains(e.Error, "heal timed out") {
			return
		}
	}
	t.Fatal("the history does not record the heal as timed out")
}

func TestARunPastItsGraceIsTornDownWithAnUnknownVerdictAndNothingLeftRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	// A worker frozen for 30s keeps the run stopping its workers for seconds (their stop is bounded by 2 TTLs +
	// 5s); with a grace of 1ms the watchdog fires first, before the run can judge.
	sc, err := scenarios.Parse("frozen", "frozen.yaml", []byte(`description: a worker frozen past the end of the run
duration: 3s
groups: 1
workers: 2
hold: {min: 5ms, max: 20ms}
faults:
  - kind: client-stall
    workers: [g1w1]
    stall: 30s
    at: 500ms
    for: 2400ms
`))
	if err != nil {
		t.Fatal(err)
	}
	var warnings syncBuffer
	start := time.Now()
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 1,
		Grace: time.Millisecond, OutDir: t.TempDir(), Warnings: &warnings})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second+harness.TeardownBound {
		t.Fatalf("the run took %s", d)
	}
	if res.Verdict != checker.Unknown || !strings.Contains(res.Check.Reason, "torn down by the watchdog") {
		t.Fatalf("verdict %s (%s), want unknown, torn down", res.Verdict, res.Check.Reason)
	}
	b, err := os.ReadFile(filepath.Join(res.Dir, "verdict.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Verdict, Reason string }
	if err := json.Unmarshal(b, &v); err != nil || v.Verdict != "unknown" || !strings.Contains(v.Reason, "grace") {
		t.Fatalf("verdict.json: %s", b)
	}
	var cfg struct {
		Nodes []cluster.Node    `json:"nodes"`
		Links map[string]string `json:"links"`
	}
	if b, err := os.ReadFile(filepath.Join(res.Dir, "config.json")); err != nil || json.Unmarshal(b, &cfg) != nil || len(cfg.Nodes) == 0 {
		t.Fatalf("config.json: %v", err)
	}
	addrs := []string{}
	for _, n := range cfg.Nodes {
		addrs = append(addrs, n.Addr)
	}
	for _, a := range cfg.Links {
		addrs = append(addrs, a)
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("%s still listens after the watchdog tore the run down", a)
		}
	}
	if _, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl")); err != nil {
		t.Fatalf("the history cannot be read back: %v", err)
	}
	if !strings.Contains(warnings.String(), "tearing it down") {
		t.Fatalf("no warning: %q", warnings.String())
	}
}

func TestARunToldToStopOnViolationEndsAtItsFirstAndTheCheckerConfirmsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	sc := scenarios.MustLoad("client-stall") // lua is caught there on every seed
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 1,
		OutDir: t.TempDir(), StopOnViolation: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != checker.Invalid || !res.StoppedEarly {
		t.Fatalf("verdict %s, stopped early %v: %s", res.Verdict, res.StoppedEarly, res.Summary())
	}
	if res.Elapsed >= sc.Duration.D() || res.Check.FirstViolation > res.Elapsed {
		t.Fatalf("ran %s of %s, first violation at %s", res.Elapsed, sc.Duration.D(), res.Check.FirstViolation)
	}
}
