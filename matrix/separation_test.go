package matrix

import (
	"strings"
	"testing"
)

func runs(verdict, live string, n int) []Outcome {
	out := make([]Outcome, n)
	for i := range out {
		out[i] = Outcome{Seed: int64(i + 1), Verdict: verdict, Live: live, Written: 50, MinWritten: 20}
	}
	return out
}

func TestTheSeparationTableNamesTheScenariosWhereTheBrokenLockIsCaughtAndItsFixValid(t *testing.T) {
	m := &Matrix{Seeds: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Cells: []CellResult{
		{Cell: Cell{"stall-in-release", "get-del"}, Runs: runs("invalid", "ok", 10)},
		{Cell: Cell{"stall-in-release", "lua"}, Runs: runs("valid", "ok", 10)},
		{Cell: Cell{"client-stall", "get-del"}, Runs: runs("invalid", "ok", 10)},
		{Cell: Cell{"client-stall", "lua"}, Runs: runs("invalid", "ok", 10)},                                  // kills both: proves nothing
		{Cell: Cell{"latency", "get-del"}, Runs: append(runs("invalid", "ok", 8), runs("valid", "ok", 2)...)}, // too rare
		{Cell: Cell{"latency", "lua"}, Runs: runs("valid", "ok", 10)},
		{Cell: Cell{"protocol-crash", "setnx-expire"}, Runs: runs("valid", "stuck", 10)},
		{Cell: Cell{"protocol-crash", "setnx-del"}, Runs: runs("valid", "ok", 10)},
		{Cell: Cell{"protocol-crash", "get-del"}, Runs: runs("valid", "ok", 10)},
		{Cell: Cell{"protocol-crash", "lua"}, Runs: runs("valid", "ok", 10)},
	}}
	tab := SeparationTable(m, 0.9)
	for _, want := range []string{
		"| `get-del` vs `lua` | does checking the owner in the same command as the delete matter? | stall-in-release (invalid 10/10, 72–100 %) |",
		"| `setnx-expire` vs `setnx-del` | does setting the expiry in the same command as the lock matter? | protocol-crash (stuck 10/10, 72–100 %) |",
	} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	if strings.Contains(tab, "client-stall") || strings.Contains(tab, "latency") {
		t.Errorf("a scenario that kills both locks, or the broken one too rarely, separates nothing:\n%s", tab)
	}
}

func TestARateOnTenSeedsIsReportedWithItsSpread(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		want string
	}{
		{10, 10, "72–100 %"},
		{0, 10, "0–28 %"},
		{9, 10, "59–99 %"},
		{5, 10, "23–77 %"},
		{0, 0, ""},
	} {
		if got := Spread(tc.k, tc.n); got != tc.want {
			t.Errorf("Spread(%d, %d) = %q, want %q", tc.k, tc.n, got, tc.want)
		}
	}
}
