package matrix

import (
	"fmt"
	"testing"
)

func TestSeedsAreACountARangeOrAList(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"3", "[1 2 3]"},
		{"11-14", "[11 12 13 14]"},
		{"3,7,9", "[3 7 9]"},
		{" 5 ", "[1 2 3 4 5]"},
		{"0", "error"},
		{"20-11", "error"},
		{"a-b", "error"},
		{"3,3", "error"},
		{"", "error"},
		{"-4", "error"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("seeds %q are %s", tc.in, tc.want), func(t *testing.T) {
			got, err := ParseSeeds(tc.in)
			s := fmt.Sprint(got)
			if err != nil {
				s = "error"
			}
			if s != tc.want {
				t.Fatalf("got %s (%v)", s, err)
			}
		})
	}
	if r := seedRange([]int64{11, 12, 13}); r != "11-13" {
		t.Fatalf("seedRange %s", r)
	}
	if r := seedRange([]int64{3, 7}); r != "3,7" {
		t.Fatalf("seedRange %s", r)
	}
}
