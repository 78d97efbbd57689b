package fault_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/scenarios"
)

// These tests load whole scenarios: they are outside package fault because package scenarios imports it.

func TestClockAndFailoverEntriesAreCheckedWhenTheScenarioLoads(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"kind: clock-jump\n    nodes: [n1]", "clock-jump needs jump"},
		{"kind: clock-jump\n    jump: 1500ms", "not a whole number of seconds"},
		{"kind: clock-jump\n    jump: 2s\n    period: 1s", "clock-jump does not take period"},
		{"kind: clock-strobe\n    jump: 2s", "clock-strobe needs period"},
		{"kind: clock-strobe\n    jump: 2s\n    period: 1s\n    lag: 1s", "clock-strobe does not take lag"},
		{"kind: failover\n    jump: 2s", "failover does not take jump"},
		{"kind: pause\n    lag: 2s", "pause does not take lag"},
		{"kind: failover\n    lag: 2s\n    for: 1s", "must be longer than lag"},
		{"kind: clock-drift", "clock-drift needs rate"},
		{"kind: clock-drift\n    rate: 1", "clock-drift needs rate"},
		{"kind: clock-drift\n    rate: 3", "clock-drift needs rate"},
		{"kind: clock-drift\n    rate: 1.01\n    at: 2s", "lasts the whole run"},
		{"kind: clock-drift\n    rate: 1.01\n    for: 2s", "lasts the whole run"},
		{"kind: clock-drift\n    rate: 1.01\n    jump: 2s", "clock-drift does not take jump"},
		{"kind: partition\n    shape: majorities-ring\n    nodes: [n1]", "it takes no nodes or groups"},
		{"kind: partition\n    shape: isolate-node\n    rto: 200ms", "rto applies to hold mode only"},
		{"kind: partition\n    shape: isolate-node\n    mode: hold\n    rto: -1s", "negative duration"},
	} {
		_, err := scenarios.Parse("x", "x.yaml", []byte("duration: 10s\nfaults:\n  - "+tc.entry+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.entry, err, tc.want)
		}
	}
	for _, ok := range []string{
		"kind: clock-jump\n    nodes: [n1]\n    jump: 5s",
		"kind: clock-strobe\n    count: 2\n    jump: 3s\n    period: 250ms",
		"kind: failover\n    nodes: [n1]\n    lag: 1500ms",
		"kind: clock-drift\n    rate: 1.01",
		"kind: clock-drift\n    nodes: [n1, n2]\n    rate: 0.99",
		"kind: partition\n    shape: isolate-node\n    mode: hold\n    rto: 200ms",
	} {
		if _, err := scenarios.Parse("x", "x.yaml", []byte("duration: 10s\nfaults:\n  - "+ok+"\n")); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

func TestAScenarioRecordsEachFaultAsWrittenKindTimingThenItsOwnParameters(t *testing.T) {
	tests := []struct{ name, entry, want string }{
		{"a latency keeps its links and delays",
			"kind: latency\n    groups: [g1]\n    latency: 80ms\n    jitter: 60ms\n    at: 1s\n    for: 3s\n    every: 7s",
			`{"kind":"latency","at":"1s","for":"3s","every":"7s","groups":["g1"],"latency":"80ms","jitter":"60ms"}`},
		{"a partition keeps its shape and mode",
			"kind: partition\n    shape: bridge\n    nodes: [n1]\n    mode: hold",
			`{"kind":"partition","at":"0s","nodes":["n1"],"shape":"bridge","mode":"hold"}`},
		{"a client stall keeps its workers, stall and steps",
			"kind: client-stall\n    workers: [g1w1]\n    stall: 850ms\n    step: before-release",
			`{"kind":"client-stall","at":"0s","workers":["g1w1"],"stall":"850ms","step":["before-release"]}`},
		{"a pause with no parameters is its kind and timing",
			"kind: pause\n    at: 2s",
			`{"kind":"pause","at":"2s"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenarios.Parse("x", "x.yaml", []byte("duration: 10s\nfaults:\n  - "+tc.entry+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(sc.Faults[0])
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %s (%v), want %s", b, err, tc.want)
			}
		})
	}
}

func TestAMisplacedParameterIsRefusedAtItsEntrysLineWithWhatTheKindTakes(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"a parameter of another kind", "duration: 5s\nfaults:\n  - kind: pause\n    at: 1s\n\n  - kind: crash-restart\n    jitter: 1s\n",
			"x.yaml:6: crash-restart does not take jitter (its parameters: count, delay, nodes)"},
		{"a misspelt target", "duration: 5s\nfaults:\n  - kind: latency\n    latency: 1s\n    node: [n1]\n",
			"x.yaml:3: latency does not take node (its parameters: groups, jitter, latency, nodes)"},
		{"a target the kind does not strike", "duration: 5s\nfaults:\n  - kind: client-crash\n    nodes: [n1]\n",
			"x.yaml:3: client-crash does not take nodes"},
		{"a bad value names its own line", "duration: 5s\nfaults:\n  - kind: latency\n    latency: 1 second\n",
			"x.yaml:4: bad duration \"1 second\""},
		{"an entry that is not a mapping", "duration: 5s\nfaults:\n  - pause\n",
			"x.yaml:3: a fault entry is a mapping"},
		{"an entry without a kind", "duration: 5s\nfaults:\n  - at: 1s\n",
			"x.yaml:3: fault without kind"},
		{"an unknown worker", "duration: 5s\nworkers: 2\nfaults:\n  - kind: client-crash\n    workers: [g1w3]\n",
			"x.yaml:4: client-crash: unknown worker \"g1w3\" (workers are g1w1…g3w2)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse("x", "x.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
