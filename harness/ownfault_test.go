package harness_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/checker"
	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/fault"
	"github.com/redlock-harness/redlock-harness/history"
	"github.com/redlock-harness/redlock-harness/lock"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

// noted is a fault kind declared in this file and nowhere else, as EXTENDING.md's "Adding a fault" says a kind is:
// a type whose YAML fields are its targets and parameters, registered in an init(). It does nothing to the nodes;
// each injection notes its parameter in the history.
type noted struct {
	fault.NodeTargets `yaml:",inline"`
	// Note is what each injection notes.
	Note string `yaml:"note" json:"note"`
}

func (f *noted) Name() string { return "noted" }

func (f *noted) Inject(context.Context, *fault.Env) (fault.Injection, error) {
	return fault.Injection{Targets: f.Nodes, Note: f.Note, Heal: func(context.Context) error { return nil }}, nil
}

func (f *noted) Validate(fault.Timing) error {
	if f.Note == "" {
		return errors.New("noted needs note: (what to note)")
	}
	return nil
}

func init() {
	fault.Register(fault.Kind{Name: "noted", Summary: "notes its parameter in the history and does nothing else (tests only)",
		New: func() fault.Fault { return &noted{} }})
}

const notedScenario = `description: a fault kind declared in a test file, with a parameter of its own
duration: 2500ms
groups: 1
workers: 2
hold: {min: 5ms, max: 20ms}
min_critical_sections: 1
faults:
  - kind: noted
    nodes: [n2, n4]
    note: declared in a test file
    at: 500ms
    for: 1s
`

func TestAFaultKindDeclaredInATestFileIsDecodedStrictlyWhenItsScenarioLoads(t *testing.T) {
	tests := []struct{ name, entry, want string }{
		{"a field it does not declare is refused", "kind: noted\n    note: x\n    notes: y", "x.yaml:3: noted does not take notes (its parameters: node"},
		{"its own check runs", "kind: noted\n    nodes: [n1]", "x.yaml:3: noted needs note"},
		{"its targets are checked against the scenario", "kind: noted\n    note: x\n    nodes: [n6]", "x.yaml:3: noted: unknown node \"n6\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse("x", "x.yaml", []byte("duration: 5s\nfaults:\n  - "+tc.entry+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestAFaultKindDeclaredInATestFileRunsEndToEndWithItsOwnParameter(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	t.Parallel()
	sc, err := scenarios.Parse("noted", "noted.yaml", []byte(notedScenario))
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.Run(context.Background(), harness.Config{Scenario: sc, Strategy: lock.Lua{}, Seed: 1, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != checker.Valid {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Summary())
	}
	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	checkNotedEvents(t, h.Events)
	checkNotedConfig(t, res.Dir)
}

// checkNotedEvents checks that the history holds the noted fault's inject, at its time with its targets and its
// note, then its heal on the same targets a second later.
func checkNotedEvents(t *testing.T, events []history.Event) {
	t.Helper()
	var got []history.Event
	for _, e := range events {
		if e.Ev == history.EvFault && e.Name == "noted" {
			got = append(got, e)
		}
	}
	if len(got) != 2 || got[0].Phase != history.PhaseInject || got[1].Phase != history.PhaseHeal {
		t.Fatalf("noted's fault events: %+v", got)
	}
	for _, e := range got {
		if !slices.Equal(e.Targets, []string{"n2", "n4"}) {
			t.Errorf("%s targets %v, want n2, n4", e.Phase, e.Targets)
		}
	}
	if got[0].Note != "declared in a test file" {
		t.Errorf("inject notes %q", got[0].Note)
	}
	inject, heal := time.Duration(got[0].T), time.Duration(got[1].T)
	if inject < 500*time.Millisecond || inject > 900*time.Millisecond || heal-inject < 900*time.Millisecond {
		t.Errorf("injected at %s, healed at %s: want at 500ms for 1s", inject, heal)
	}
}

// checkNotedConfig checks that config.json records the noted entry with its own parameter, as written.
func checkNotedConfig(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Scenario struct {
			Faults []map[string]any `json:"faults"`
		} `json:"scenario"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || len(cfg.Scenario.Faults) != 1 {
		t.Fatalf("config.json's faults: %v %s", err, b)
	}
	f := cfg.Scenario.Faults[0]
	if f["kind"] != "noted" || f["note"] != "declared in a test file" || f["at"] != "500ms" || f["for"] != "1s" {
		t.Fatalf("config.json records the fault as %v", f)
	}
}
