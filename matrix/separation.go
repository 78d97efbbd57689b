package matrix

import (
	"fmt"
	"slices"
	"strings"

	"github.com/redlock-harness/redlock-harness/checker"
)

// Contrast is a pair of locks the source articles set against each other, and the question telling them apart
// answers.
type Contrast struct {
	Broken, Fixed string
	Question      string
}

// Contrasts are the pairs the separation table looks for: each lock beside the one that fixes what the articles
// say is wrong with it.
var Contrasts = []Contrast{
	{"setnx-del", "lua", "does an owner token, checked on release, matter?"},
	{"get-del", "lua", "does checking the owner in the same command as the delete matter?"},
	{"setnx-expire", "setnx-del", "does setting the expiry in the same command as the lock matter?"},
	{"lua-watchdog", "lua-watchdog-cancel", "does a watchdog that tells its holder when renewal fails matter?"},
	{"lua", "redlock", "does a majority of five nodes buy anything over one node?"},
	{"lua", "redsync", "does redsync's majority buy anything over one node?"},
	{"redlock-naive", "redlock", "do the validity check, per-node timeouts and releasing everywhere matter?"},
	{"redlock", "fenced", "do fencing tokens buy anything over Redlock?"},
	{"redsync", "fenced", "do fencing tokens buy anything over redsync?"},
	{"etcd-mutex", "etcd-mutex-fenced", "does the lock key's revision as a fencing token buy anything over etcd's lock?"},
	{"etcd-lease-txn", "etcd-mutex", "does etcd's Mutex, whose session tells its holder of a lost lease, buy anything over a hand-made lease lock?"},
	{"lua", "etcd-mutex", "does etcd's lock buy anything over a single Redis node?"},
	{"lua", "pg-advisory", "does a lock that lives with its connection, with no expiry, buy anything over a lease?"},
	{"pg-advisory", "pg-unique-row", "does a lock row that outlives its session buy anything over a session lock?"},
	{"pg-unique-row", "pg-unique-row-fenced", "does a sequence as a fencing token buy anything over the lock row?"},
}

// Separates reports whether scenario sc tells broken from fixed in m: broken caught (invalid, or stuck) on at
// least the gate's share of seeds while fixed was valid and never stuck on every seed. It returns how broken
// was caught.
func Separates(m *Matrix, sc string, ct Contrast, share float64) (how string, ok bool) {
	b, ok1 := m.Cell(sc, ct.Broken)
	f, ok2 := m.Cell(sc, ct.Fixed)
	if !ok1 || !ok2 || len(b.Runs) == 0 || len(f.Runs) == 0 {
		return "", false
	}
	if f.Count(string(checker.Valid)) != len(f.Runs) || f.StuckCount() > 0 {
		return "", false
	}
	need := RequiredCatches(len(b.Runs), share)
	if inv := b.Count(string(checker.Invalid)); inv >= need {
		return fmt.Sprintf("invalid %d/%d, %s", inv, len(b.Runs), Spread(inv, len(b.Runs))), true
	}
	if st := b.StuckCount(); st >= need {
		return fmt.Sprintf("stuck %d/%d, %s", st, len(b.Runs), Spread(st, len(b.Runs))), true
	}
	return "", false
}

// SeparationTable renders, for each contrast, the scenarios that separate its two locks, with the broken one's
// rate, and says so when none does.
func SeparationTable(m *Matrix, share float64) string {
	var b strings.Builder
	b.WriteString("| locks | question | separated by (rate of the first; the second valid on every seed) |\n|---|---|---|\n")
	sts := m.Strategies()
	for _, ct := range Contrasts {
		if !slices.Contains(sts, ct.Broken) || !slices.Contains(sts, ct.Fixed) {
			continue
		}
		var by []string
		for _, sc := range m.Scenarios() {
			if how, ok := Separates(m, sc, ct, share); ok {
				by = append(by, fmt.Sprintf("%s (%s)", sc, how))
			}
		}
		cell := strings.Join(by, ", ")
		if cell == "" {
			cell = "**none**"
		}
		fmt.Fprintf(&b, "| `%s` vs `%s` | %s | %s |\n", ct.Broken, ct.Fixed, ct.Question, cell)
	}
	return b.String()
}
