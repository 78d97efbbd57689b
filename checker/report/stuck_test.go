package report

import (
	"encoding/json"
	"strings"
	"testing"
)

// stuckInput is the small run with one key reported stuck from 120 ms to the end of the run (190 ms), as the
// checker's liveness verdict would give it.
func stuckInput(t testing.TB) Input {
	in := smallInput(t)
	in.Liveness = "stuck"
	in.LivenessReason = "1 key nobody could take for 5 fault-free TTLs (TTL 10ms) while workers kept trying"
	in.Stuck = []StuckSpan{{Key: "k1", From: 120 * ms, To: 190 * ms, FaultFree: 50 * ms, Attempts: 7,
		Last: "g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.12s indeterminate"}}
	return in
}

func TestAStuckKeyIsListedWithItsSpanAndLastHolderAndTheBadgeSaysStuck(t *testing.T) {
	page := render(t, stuckInput(t))
	for _, want := range []string{
		`class="liveness liveness-stuck"`, `>stuck</a>`, `data-stuck="1"`,
		"<h2>Stuck keys", "Liveness stuck: 1 key nobody could take for 5 fault-free TTLs (TTL 10ms) while workers kept trying.",
		`id="s1"`, "<td class=\"w\">k1</td><td>0.120 s</td><td>0.190 s</td><td>70 ms</td><td>50 ms</td><td>7</td>",
		"g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.12s indeterminate",
		`class="goto-stuck" data-stuck="0"`, "key stuck (nobody could take it)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The violations stay where they were: being stuck is no violation.
	if !strings.Contains(page, `data-violations="1"`) || !strings.Contains(page, `<div class="verdict">invalid</div>`) {
		t.Error("the safety verdict or its violation changed")
	}
}

func TestTheStuckSpanIsInTheTimelineDataForThePageToMark(t *testing.T) {
	in := stuckInput(t)
	in.Stuck = append(in.Stuck, StuckSpan{Key: "k0", From: -5, To: 10_000 * ms, Last: "never granted"})
	var raw struct {
		Stuck []stuckMark `json:"stuck"`
	}
	if err := json.Unmarshal([]byte(embeddedBlob(t, render(t, in))), &raw); err != nil {
		t.Fatal(err)
	}
	want := []stuckMark{
		{N: 1, Key: "k1", From: 120 * ms, To: 190 * ms, FaultFree: 50 * ms, Attempts: 7, Last: in.Stuck[0].Last},
		// A span reaching outside the run is clipped to it.
		{N: 2, Key: "k0", From: 0, To: 190 * ms, Last: "never granted"},
	}
	if len(raw.Stuck) != len(want) {
		t.Fatalf("stuck in the blob: %+v", raw.Stuck)
	}
	for i := range want {
		if raw.Stuck[i] != want[i] {
			t.Errorf("stuck %d = %+v, want %+v", i, raw.Stuck[i], want[i])
		}
	}
}

func TestALiveRunSaysSoAndARunWithoutALivenessVerdictShowsNone(t *testing.T) {
	in := smallInput(t)
	in.Liveness, in.LivenessReason = "ok", "no key went 5 fault-free TTLs (TTL 1s) without a grant while workers kept trying"
	page := render(t, in)
	for _, want := range []string{`class="liveness liveness-ok"`, ">liveness ok</a>", `id="liveness"`,
		`<p class="none">ok: no key went 5 fault-free TTLs (TTL 1s) without a grant while workers kept trying.</p>`, `data-stuck="0"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<h2>Stuck keys") || strings.Contains(page, `"stuck":[`) {
		t.Error("a live run lists stuck keys")
	}
	page = render(t, smallInput(t))
	if strings.Contains(page, `id="liveness"`) || strings.Contains(page, `class="liveness `) {
		t.Error("a report without a liveness verdict shows one")
	}
}

func TestHostileStuckKeysCannotBreakThePage(t *testing.T) {
	evil := `</script><script>alert(1)</script><!--`
	in := smallInput(t)
	in.Liveness, in.LivenessReason = evil, evil
	in.Stuck = []StuckSpan{{Key: evil, From: 1, To: 2, Last: evil}}
	page := render(t, in)
	if n := strings.Count(page, "<script"); n != 3 {
		t.Errorf("%d script elements, want 3", n)
	}
	if strings.Contains(page, "alert(1)</script>") {
		t.Error("a stuck key's text closed a script element")
	}
	if !strings.Contains(page, `class="liveness liveness-other"`) {
		t.Error("an unknown liveness verdict is not drawn as other")
	}
}
