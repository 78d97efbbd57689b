package matrix

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSeeds reads the seeds of a matrix: "10" is seeds 1 to 10 (how many, from 1), "11-20" a range, "3,7,9" a
// list. Expectations measured on seeds 1-10 are confirmed on seeds never measured, such as 11-20.
func ParseSeeds(s string) ([]int64, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("--seeds %q: write a count (10), a range (11-20) or a list (3,7,9) of positive seeds", s)
	if s == "" {
		return nil, bad
	}
	var out []int64
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || a < 1 || b < a || b-a > 10000 {
			return nil, bad
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
		return out, nil
	}
	if strings.Contains(s, ",") {
		seen := map[int64]bool{}
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || v < 1 || seen[v] {
				return nil, bad
			}
			seen[v] = true
			out = append(out, v)
		}
		return out, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 10000 {
		return nil, bad
	}
	for v := 1; v <= n; v++ {
		out = append(out, int64(v))
	}
	return out, nil
}

// seedRange writes seeds as a range when they are consecutive ("11-20"), else as a list.
func seedRange(seeds []int64) string {
	if len(seeds) == 0 {
		return "none"
	}
	consecutive := true
	for i := 1; i < len(seeds); i++ {
		if seeds[i] != seeds[i-1]+1 {
			consecutive = false
		}
	}
	if consecutive && len(seeds) > 1 {
		return fmt.Sprintf("%d-%d", seeds[0], seeds[len(seeds)-1])
	}
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = strconv.FormatInt(s, 10)
	}
	return strings.Join(parts, ",")
}
