package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/redlock-harness/redlock-harness/history"
)

// loadSmall reads the hand-written history in testdata: four workers (one named g1w10 to test the lane order),
// two keys, every kind of outcome, a healed partition and an unhealed client stall, and one lease-outlived pair.
func loadSmall(t testing.TB) *history.History {
	t.Helper()
	h, err := history.ReadFile("testdata/small.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// smallViolations is the pair the checker finds in small.jsonl: g1w10 stalled past its lease (valid until
// 135 ms) and wrote at 180 ms over g2w1's increment. A carries its id, B does not, so both ways of locating a
// section are exercised.
func smallViolations() []Violation {
	return []Violation{{
		Key:    "k0",
		A:      Interval{ID: 11, Worker: "g1w10", ReadT: 106 * ms, WriteT: 180 * ms, Read: 1, Wrote: 2, Fence: 3},
		B:      Interval{Worker: "g2w1", ReadT: 143 * ms, WriteT: 160 * ms, Read: 1, Wrote: 2, Fence: 4},
		Cause:  "lease-outlived",
		Faults: []string{"client-stall"},
	}}
}

func smallInput(t testing.TB) Input {
	return Input{
		History:    loadSmall(t),
		Verdict:    "invalid",
		Summary:    "invalid: g1w10 and g2w1 overlap on k0 at 0.143 s–0.16 s (both read 1; lease-outlived by g1w10; faults: client-stall)",
		Violations: smallViolations(),
		Tables: []Table{{Title: "Liveness", Header: []string{"", "all", "in faults", "outside"},
			Rows: [][]string{{"acquires tried", "9", "5", "4"}, {"granted", "6", "3", "3"}}}},
		Links: map[string]string{"linearizability.html": "porcupine visualisation"},
	}
}

func render(t testing.TB, in Input) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const blobOpen = `<script type="application/json" id="timeline-data">`

// embeddedBlob is the timeline blob as the page carries it.
func embeddedBlob(t testing.TB, page string) string {
	t.Helper()
	i := strings.Index(page, blobOpen)
	if i < 0 {
		t.Fatal("page has no timeline blob")
	}
	rest := page[i+len(blobOpen):]
	j := strings.Index(rest, "</script>")
	if j < 0 {
		t.Fatal("timeline blob not closed")
	}
	return rest[:j]
}
