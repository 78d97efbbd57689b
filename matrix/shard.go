package matrix

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Shard is one of N parts of a matrix's runs, so that N machines share a gate: shard I of N takes every Nth of
// the (cell, seed) runs, counted in the plan's order (cells, then seeds), starting at the Ith. The split depends
// on the plan alone, so every machine computes the same one.
type Shard struct{ I, N int }

// ParseShard reads "i/n" (1 ≤ i ≤ n).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("--shard %q: write i/n with 1 ≤ i ≤ n, e.g. 2/4", s)
	}
	return Shard{I: i, N: n}, nil
}

// Takes says whether the shard makes the run of cell ci at seed index si.
func (s Shard) Takes(ci, si, cells int) bool {
	if s.N <= 1 {
		return true
	}
	return (ci+si*cells)%s.N == s.I-1
}

// String is "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Merge combines the matrices of the shards of one plan into the matrix an unsharded run of it makes: every cell
// with every run, runs in seed order. Elapsed is the longest shard's (the shards ran side by side).
func Merge(parts []*Matrix) (*Matrix, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("merge: no matrix")
	}
	out := &Matrix{Started: parts[0].Started, Duration: parts[0].Duration}
	index := map[Cell]int{}
	for _, p := range parts {
		if p.Duration != out.Duration {
			return nil, fmt.Errorf("merge: shards of different plans (duration %q and %q)", p.Duration, out.Duration)
		}
		out.Elapsed = max(out.Elapsed, p.Elapsed)
		if p.Started.Before(out.Started) {
			out.Started = p.Started
		}
		for _, s := range p.Seeds {
			if !slices.Contains(out.Seeds, s) {
				out.Seeds = append(out.Seeds, s)
			}
		}
		for _, c := range p.Cells {
			i, ok := index[c.Cell]
			if !ok {
				i = len(out.Cells)
				index[c.Cell] = i
				out.Cells = append(out.Cells, CellResult{Cell: c.Cell})
			}
			for _, r := range c.Runs {
				if slices.ContainsFunc(out.Cells[i].Runs, func(o Outcome) bool { return o.Seed == r.Seed }) {
					return nil, fmt.Errorf("merge: %s seed %d is in two shards", c.Cell, r.Seed)
				}
				out.Cells[i].Runs = append(out.Cells[i].Runs, r)
			}
		}
	}
	slices.Sort(out.Seeds)
	for i := range out.Cells {
		slices.SortFunc(out.Cells[i].Runs, func(a, b Outcome) int { return int(a.Seed - b.Seed) })
	}
	return out, nil
}

// ReadShards reads the matrix.json of each shard directory (or file) and merges them.
func ReadShards(paths []string) (*Matrix, error) {
	var parts []*Matrix
	for _, p := range paths {
		if filepath.Ext(p) != ".json" {
			p = filepath.Join(p, "matrix.json")
		}
		m, err := ReadJSON(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, m)
	}
	return Merge(parts)
}
