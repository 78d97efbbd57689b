package harness_test

import (
	"reflect"
	"testing"

	"github.com/redlock-harness/redlock-harness/harness"
	"github.com/redlock-harness/redlock-harness/harness/cluster"
	"github.com/redlock-harness/redlock-harness/scenarios"
)

func TestTheNodesStartAsTheScenariosFaultsSayTheyNeed(t *testing.T) {
	tests := []struct {
		name, faults string
		want         cluster.Spec
	}{
		{"no fault needs anything", "  - kind: pause\n", cluster.Spec{Nodes: 5, Persistence: "none"}},
		{"a failover needs replicas", "  - kind: failover\n", cluster.Spec{Nodes: 5, Persistence: "none", Replicas: true}},
		{"a clock jump needs a fake clock", "  - kind: clock-jump\n    jump: 2s\n", cluster.Spec{Nodes: 5, Persistence: "none", FakeClock: true}},
		{"a clock drift sets the rate of the nodes it names", "  - kind: clock-drift\n    nodes: [n2]\n    rate: 1.01\n",
			cluster.Spec{Nodes: 5, Persistence: "none", FakeClock: true, ClockRates: map[string]float64{"n2": 1.01}}},
		{"a clock drift naming no node sets every node's rate", "  - kind: clock-drift\n    rate: 0.99\n",
			cluster.Spec{Nodes: 5, Persistence: "none", FakeClock: true,
				ClockRates: map[string]float64{"n1": 0.99, "n2": 0.99, "n3": 0.99, "n4": 0.99, "n5": 0.99}}},
		{"every fault is asked", "  - kind: failover\n  - kind: clock-strobe\n    jump: 1s\n    period: 1s\n",
			cluster.Spec{Nodes: 5, Persistence: "none", Replicas: true, FakeClock: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenarios.Parse("x", "x.yaml", []byte("duration: 5s\nfaults:\n"+tc.faults))
			if err != nil {
				t.Fatal(err)
			}
			if got := harness.ClusterSpec(sc); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
