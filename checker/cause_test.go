package checker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ms(n int) *time.Duration { d := time.Duration(n) * time.Millisecond; return &d }

// section builds a critical section from milliseconds: read at r, wrote at w, validity left at each.
func section(worker string, r, w int, validRead, validWrite *time.Duration) CriticalSection {
	return CriticalSection{Worker: worker, Key: "k0", ReadAt: time.Duration(r) * time.Millisecond,
		WroteAt: time.Duration(w) * time.Millisecond, ValidAtRead: validRead, ValidAtWrite: validWrite}
}

var causeCases = []struct {
	name          string
	first, second CriticalSection
	cause         Cause
	outlived      string
	bothValid     bool
}{
	{
		name:   "both holders inside their leases when the second read: granted twice",
		first:  section("a", 0, 100, ms(1000), ms(900)),
		second: section("b", 50, 150, ms(1000), ms(900)),
		cause:  CauseGrantedTwice, bothValid: true,
	},
	{
		name:   "the first holder stalled past its lease and wrote late: lease outlived by the first",
		first:  section("a", 0, 300, ms(100), ms(-200)),
		second: section("b", 150, 170, ms(1000), ms(980)),
		cause:  CauseLeaseOutlived, outlived: "a",
	},
	{
		name:   "the first holder's lease had ended before the second read, though it wrote in time by its own clock: lease outlived",
		first:  section("a", 0, 300, ms(100), ms(0)),
		second: section("b", 310, 320, ms(1000), ms(990)),
		cause:  CauseLeaseOutlived, outlived: "a",
	},
	{
		name:   "the first wrote late but both leases were valid when the second read: granted twice, the service failed first",
		first:  section("a", 0, 300, ms(1000), ms(-10)),
		second: section("b", 100, 200, ms(1000), ms(900)),
		cause:  CauseGrantedTwice, bothValid: true,
	},
	{
		name:   "the second holder read after its own lease had run out: lease outlived by the second",
		first:  section("a", 0, 100, ms(1000), ms(900)),
		second: section("b", 50, 150, ms(-5), ms(-105)),
		cause:  CauseLeaseOutlived, outlived: "b",
	},
	{
		name:   "only the read-time validity of the first is known: it is used",
		first:  section("a", 0, 100, ms(1000), nil),
		second: section("b", 50, 150, ms(1000), nil),
		cause:  CauseGrantedTwice, bothValid: true,
	},
	{
		name:   "no validity figures at all: unexplained",
		first:  section("a", 0, 100, nil, nil),
		second: section("b", 50, 150, nil, nil),
		cause:  CauseUnexplained,
	},
}

func TestCausesAreClassifiedFromTheHoldersOwnValidity(t *testing.T) {
	var golden strings.Builder
	for _, tc := range causeCases {
		cause, outlived, both := classify(tc.first, tc.second)
		line := fmt.Sprintf("%s: %s %q both-valid=%v", tc.name, cause, outlived, both)
		golden.WriteString(line + "\n")
		t.Run(tc.name, func(t *testing.T) {
			if cause != tc.cause || outlived != tc.outlived || both != tc.bothValid {
				t.Errorf("got %s %q %v, want %s %q %v", cause, outlived, both, tc.cause, tc.outlived, tc.bothValid)
			}
		})
	}
	path := filepath.Join("testdata", "causes.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if golden.String() != string(want) {
		t.Errorf("classification differs from %s (run with -update after a deliberate change)\ngot:\n%s", path, golden.String())
	}
}

func TestEveryOverlapOfTheTestdataHasTheCauseItsFileNames(t *testing.T) {
	for file, want := range map[string][]Cause{
		"overlap-granted-twice.jsonl":  {CauseGrantedTwice},
		"overlap-lease-outlived.jsonl": {CauseLeaseOutlived},
		"both-causes.jsonl":            {CauseGrantedTwice, CauseLeaseOutlived},
	} {
		r := Check(load(t, file), Options{})
		var got []Cause
		for _, o := range r.Overlap.Overlaps {
			got = append(got, o.Cause)
		}
		eq(t, file, got, want)
	}
}
