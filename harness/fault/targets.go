package fault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NodeTargets gives a kind that embeds it (`yaml:",inline"`) the key `nodes: [n1, n3]`: the nodes it strikes.
// Empty means the kind draws them from the seed or takes them all, as it says. The names are checked against the
// scenario's nodes when it loads.
type NodeTargets struct {
	Nodes []string `yaml:"nodes" json:"nodes,omitempty"`
}

func (t NodeTargets) namedNodes() []string { return t.Nodes }

// GroupTargets gives a kind that embeds it (`yaml:",inline"`) the key `groups: [g1]`: the client groups whose
// links it strikes. Empty means all groups or a draw, as the kind says. The names are checked against the
// scenario's groups when it loads.
type GroupTargets struct {
	Groups []string `yaml:"groups" json:"groups,omitempty"`
}

func (t GroupTargets) namedGroups() []string { return t.Groups }

// WorkerTargets gives a kind that embeds it (`yaml:",inline"`) the key `workers: [g1w3]`: the workers a client
// fault strikes. Empty means a draw. The names are checked against the scenario's workers when it loads.
type WorkerTargets struct {
	Workers []string `yaml:"workers" json:"workers,omitempty"`
}

func (t WorkerTargets) namedWorkers() []string { return t.Workers }

// Size is what a scenario has for faults to target: its numbers of nodes, client groups and workers per group.
type Size struct{ Nodes, Groups, Workers int }

// CheckTargets returns an error per target the entry names that the scenario does not have (a node n9 of five),
// each saying which exist. An entry that was not read from YAML (no Fault) is an error too.
func (e Entry) CheckTargets(s Size) error {
	if e.Fault == nil {
		return fmt.Errorf("%s: the entry's parameters were never decoded", e.Kind)
	}
	var errs []error
	if t, ok := e.Fault.(interface{ namedNodes() []string }); ok {
		for _, n := range t.namedNodes() {
			if !validIndexName(n, "n", s.Nodes) {
				errs = append(errs, fmt.Errorf("%s: unknown node %q (nodes are n1…n%d)", e.Kind, n, s.Nodes))
			}
		}
	}
	if t, ok := e.Fault.(interface{ namedGroups() []string }); ok {
		for _, g := range t.namedGroups() {
			if !validIndexName(g, "g", s.Groups) {
				errs = append(errs, fmt.Errorf("%s: unknown client group %q (groups are g1…g%d)", e.Kind, g, s.Groups))
			}
		}
	}
	if t, ok := e.Fault.(interface{ namedWorkers() []string }); ok {
		for _, w := range t.namedWorkers() {
			if !validWorker(w, s) {
				errs = append(errs, fmt.Errorf("%s: unknown worker %q (workers are g1w1…g%dw%d)", e.Kind, w, s.Groups, s.Workers))
			}
		}
	}
	return errors.Join(errs...)
}

// validWorker says whether w names a worker gGwI of the scenario.
func validWorker(w string, s Size) bool {
	var g, i int
	if _, err := fmt.Sscanf(w, "g%dw%d", &g, &i); err != nil {
		return false
	}
	return g >= 1 && g <= s.Groups && i >= 1 && i <= s.Workers && fmt.Sprintf("g%dw%d", g, i) == w
}

// validIndexName says whether name is prefix followed by an index from 1 to n, written plainly (n1, not n01).
func validIndexName(name, prefix string, n int) bool {
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	i, err := strconv.Atoi(name[len(prefix):])
	return err == nil && i >= 1 && i <= n && strconv.Itoa(i) == name[len(prefix):]
}
