package matrix

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestShardsTakeEveryRunExactlyOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		taken := map[[2]int]int{}
		for i := 1; i <= n; i++ {
			s := Shard{I: i, N: n}
			for ci := 0; ci < 5; ci++ {
				for si := 0; si < 4; si++ {
					if s.Takes(ci, si, 5) {
						taken[[2]int{ci, si}]++
					}
				}
			}
		}
		if len(taken) != 20 {
			t.Fatalf("%d shards take %d of 20 runs", n, len(taken))
		}
		for k, v := range taken {
			if v != 1 {
				t.Fatalf("%d shards: run %v taken %d times", n, k, v)
			}
		}
	}
	for _, bad := range []string{"0/2", "3/2", "2", "a/b", "1/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("shard %q accepted", bad)
		}
	}
}

func TestShardsRunOneAfterAnotherAndMergedEqualTheUnshardedMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: not in -short")
	}
	// Cells whose verdicts do not depend on timing luck: the same runs made twice must agree, so only single-node
	// locks with no fault to catch them. A run that may or may not catch a lock would make this test flaky, not
	// sharding; so would two runs of a five-node lock at once under the race detector, which on a slow 2-CPU machine
	// starve each other below the 50 ms per-node timeout and do too little work for a verdict.
	plan := Plan{Cells: []Cell{{"baseline", "lua"}, {"baseline", "setnx-del"}, {"baseline", "get-del"}},
		Seeds: []int64{1, 2}, Duration: 5 * time.Second, Parallel: 2, OutDir: t.TempDir()}
	whole, err := Run(context.Background(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts []*Matrix
	for i := 1; i <= 2; i++ {
		p := plan
		p.Shard = Shard{I: i, N: 2}
		m, err := Run(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, m)
	}
	merged, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	summary := func(m *Matrix) string {
		s := fmt.Sprint(m.Seeds)
		for _, c := range m.Cells {
			s += fmt.Sprintf(" %s:", c.Cell)
			for _, r := range c.Runs {
				s += fmt.Sprintf(" %d=%s", r.Seed, r.Verdict)
			}
		}
		return s
	}
	if a, b := summary(whole), summary(merged); a != b {
		t.Fatalf("unsharded: %s\nmerged:    %s", a, b)
	}
	if _, err := Merge([]*Matrix{parts[0], parts[0]}); err == nil {
		t.Fatal("merging a shard with itself was accepted")
	}
}
