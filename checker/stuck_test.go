package checker

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// hb builds a history for the liveness tests, in milliseconds.
type hb struct {
	h     history.History
	id    int64
	value map[string]int64
}

// newHB starts a history whose header records the lock TTL as config.json does; ttl 0 records none.
func newHB(ttl time.Duration) *hb {
	b := &hb{value: map[string]int64{}}
	b.h.Header = history.Header{Version: 1, Scenario: "client-crash", Strategy: "setnx-expire", Seed: 7}
	if ttl > 0 {
		b.h.Header.Config = json.RawMessage(fmt.Sprintf(`{"strategy":"setnx-expire","lock":{"ttl":%d,"retries":20}}`, ttl))
	}
	return b
}

const msNS = int64(time.Millisecond)

// op records an operation from t0 to t1 ms ending with ev ("" leaves it without a completion).
func (b *hb) op(name, w, key string, t0, t1 int, ev string, e history.Event) int64 {
	b.id++
	b.h.Events = append(b.h.Events, history.Event{T: int64(t0) * msNS, Ev: history.EvInvoke, ID: b.id, Op: name, Worker: w, Key: key, Read: e.Read})
	if ev != "" {
		e.T, e.Ev, e.ID, e.Op, e.Worker, e.Key = int64(t1)*msNS, ev, b.id, name, w, key
		b.h.Events = append(b.h.Events, e)
	}
	return b.id
}

// cycle is a healthy turn of w on key from t ms: granted at t+1, a critical section that writes, a release.
func (b *hb) cycle(w, key string, t int) {
	b.op(history.OpAcquire, w, key, t, t+1, history.EvOK, history.Event{ValidNS: history.Int(100 * msNS)})
	v := b.value[key]
	b.value[key]++
	b.op(history.OpCS, w, key, t+2, t+8, history.EvOK, history.Event{Read: history.Int(v), Wrote: history.Int(v + 1)})
	b.op(history.OpRelease, w, key, t+9, t+10, history.EvOK, history.Event{})
}

// cycles runs healthy turns on key every `every` ms in [from, to), workers taking turns.
func (b *hb) cycles(key string, from, to, every int) {
	for i, t := 0, from; t < to; i, t = i+1, t+every {
		b.cycle(fmt.Sprintf("g1w%d", i%3+1), key, t)
	}
}

// refused records workers failing to take key every `every` ms in [from, to], each refusal 1 ms long.
func (b *hb) refused(key string, from, to, every int) {
	for i, t := 0, from; t <= to; i, t = i+1, t+every {
		b.op(history.OpAcquire, fmt.Sprintf("g2w%d", i%3+1), key, t, t+1, history.EvFail, history.Event{Error: "lock held by another client"})
	}
}

// crashBetweenSetNXAndExpire is g1w4's acquire of key at t ms, dying after SETNX: indeterminate, with the crash.
func (b *hb) crashBetweenSetNXAndExpire(key string, t int) {
	b.op(history.OpAcquire, "g1w4", key, t, t+1, history.EvInfo, history.Event{Reason: reasonClientCrash, Error: "crashed between-setnx-and-expire"})
}

func (b *hb) fault(name string, from, to int) {
	b.h.Events = append(b.h.Events,
		history.Event{T: int64(from) * msNS, Ev: history.EvFault, Name: name, Phase: history.PhaseInject},
		history.Event{T: int64(to) * msNS, Ev: history.EvFault, Name: name, Phase: history.PhaseHeal})
}

// stalled records a failpoint going off on worker w at t ms (a client-stall's fire).
func (b *hb) stalled(w string, t int) {
	b.h.Events = append(b.h.Events, history.Event{T: int64(t) * msNS, Ev: history.EvFault, Name: "client-stall",
		Phase: history.PhaseFire, Targets: []string{w}, Note: "stalled 1.5s at between-fence-rounds"})
}

// endAt stretches the history to t ms with an event that touches no key.
func (b *hb) endAt(t int) {
	b.h.Events = append(b.h.Events, history.Event{T: int64(t) * msNS, Ev: history.EvFault, Name: "noop", Phase: history.PhaseInject},
		history.Event{T: int64(t) * msNS, Ev: history.EvFault, Name: "noop", Phase: history.PhaseHeal})
}

// crashedKey is the story most tests vary: k0 changes hands every 50 ms until 300 ms (last granted at 251 ms),
// then g1w4 dies between SETNX and PEXPIRE at 310–311 ms, and workers keep failing to take k0 every 40 ms
// from 320 ms to `until`. With a TTL of 100 ms, five TTLs are 500 ms.
func crashedKey(ttl time.Duration, until int) *hb {
	b := newHB(ttl)
	b.cycles("k0", 0, 300, 50)
	b.crashBetweenSetNXAndExpire("k0", 310)
	b.refused("k0", 320, until, 40)
	return b
}

const ttl100 = 100 * time.Millisecond

func TestAKeyIsStuckWhenNobodyCanTakeItForFiveFaultFreeTTLsWhileWorkersTry(t *testing.T) {
	tests := []struct {
		name    string
		history func() *hb
		opts    Options
		// stuck is the stuck key's sentence, "" when the verdict must be ok.
		stuck     string
		since     time.Duration
		until     time.Duration
		faultFree time.Duration
	}{
		{
			name:    "a healthy history, the key changing hands every 50 ms, is ok",
			history: func() *hb { b := newHB(ttl100); b.cycles("k0", 0, 2000, 50); return b },
		},
		{
			name:    "a key never granted again after a client crashed between SETNX and PEXPIRE, workers trying, is stuck since the crashed acquire",
			history: func() *hb { return crashedKey(ttl100, 1500) },
			stuck:   "k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate",
			since:   311 * time.Millisecond, until: 1481 * time.Millisecond, faultFree: 1170 * time.Millisecond,
		},
		{
			name: "the same gap covered by a fault window is ok: the fault may be what stops progress",
			history: func() *hb {
				b := crashedKey(ttl100, 1500)
				b.fault("partition", 260, 1481)
				return b
			},
		},
		{
			name: "a fault covering part of the gap leaves its fault-free time, five TTLs of which are still stuck",
			history: func() *hb {
				b := crashedKey(ttl100, 1500)
				b.fault("partition", 400, 800)
				return b
			},
			stuck: "k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate",
			since: 311 * time.Millisecond, until: 1481 * time.Millisecond, faultFree: 770 * time.Millisecond,
		},
		{
			name: "a fault covering all but four TTLs of the gap is ok",
			history: func() *hb {
				b := crashedKey(ttl100, 1500)
				b.fault("partition", 400, 1181)
				return b
			},
		},
		{
			name: "a gap where the workers stopped trying is ok: the key is idle, not stuck",
			history: func() *hb {
				b := crashedKey(ttl100, 600)
				b.cycles("k1", 0, 1500, 50)
				return b
			},
		},
		{
			name: "a worker still waiting for its acquire's answer in the last TTL is still trying",
			history: func() *hb {
				b := crashedKey(ttl100, 600)
				b.cycles("k1", 0, 1500, 50)
				b.op(history.OpAcquire, "g3w1", "k0", 700, 1450, history.EvFail, history.Event{Error: "acquire timed out"})
				return b
			},
			stuck: "k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate",
			since: 311 * time.Millisecond, until: 1460 * time.Millisecond, faultFree: 1149 * time.Millisecond,
		},
		{
			name:    "a gap shorter than five fault-free TTLs is ok",
			history: func() *hb { return crashedKey(ttl100, 720) },
		},
		{
			name:    "the same gap just past five fault-free TTLs is stuck: it counts from the last grant, not from the indeterminate acquire after it",
			history: func() *hb { return crashedKey(ttl100, 760) },
			stuck:   "k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate",
			since:   311 * time.Millisecond, until: 761 * time.Millisecond, faultFree: 450 * time.Millisecond,
		},
		{
			name:    "Options.StuckTTLs raises the bar",
			history: func() *hb { return crashedKey(ttl100, 1500) },
			opts:    Options{StuckTTLs: 13},
		},
		{
			name: "a key workers try from the start and nobody ever takes is stuck since the history's start",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k1", 0, 1000, 50)
				b.refused("k0", 5, 1000, 40)
				return b
			},
			stuck: "k0 stuck since 0.00s: never granted",
			since: 0, until: 966 * time.Millisecond, faultFree: 966 * time.Millisecond,
		},
		{
			name: "a holder that crashed holding a lock that never expires is named",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 300, 50)
				b.op(history.OpAcquire, "g1w4", "k0", 300, 302, history.EvOK, history.Event{})
				b.op(history.OpCS, "g1w4", "k0", 303, 320, history.EvInfo, history.Event{Read: history.Int(6), Reason: reasonClientCrash, Error: "worker crashed holding the lock"})
				b.refused("k0", 330, 1500, 40)
				return b
			},
			stuck: "k0 stuck since 0.30s: g1w4 crashed holding the lock",
			since: 302 * time.Millisecond, until: 1491 * time.Millisecond, faultFree: 1189 * time.Millisecond,
		},
		{
			name: "a holder that crashed right after its acquire is named from the release its crash recorded",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 300, 50)
				b.op(history.OpAcquire, "g1w4", "k0", 300, 302, history.EvOK, history.Event{})
				b.op(history.OpRelease, "g1w4", "k0", 303, 303, history.EvFail, history.Event{Reason: reasonClientCrash,
					Error: "crashed at after-acquire, holding the lock: it is never released"})
				b.refused("k0", 330, 1500, 40)
				return b
			},
			stuck: "k0 stuck since 0.30s: g1w4 crashed at after-acquire, holding the lock: it is never released",
			since: 302 * time.Millisecond, until: 1491 * time.Millisecond, faultFree: 1189 * time.Millisecond,
		},
		{
			name: "a holder whose critical section never completed was cut off",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 300, 50)
				b.op(history.OpAcquire, "g1w4", "k0", 300, 302, history.EvOK, history.Event{})
				b.op(history.OpCS, "g1w4", "k0", 303, 0, "", history.Event{Read: history.Int(6)})
				b.refused("k0", 330, 1500, 40)
				return b
			},
			stuck: "k0 stuck since 0.30s: last granted to g1w4 at 0.30s, whose critical section at 0.30s never completed",
			since: 302 * time.Millisecond, until: 1491 * time.Millisecond, faultFree: 1189 * time.Millisecond,
		},
		{
			name: "a holder that released and still left the key stuck is named as the last one granted",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 350, 50)
				b.refused("k0", 370, 1500, 40)
				return b
			},
			stuck: "k0 stuck since 0.30s: last granted to g1w1 at 0.30s",
			since: 301 * time.Millisecond, until: 1491 * time.Millisecond, faultFree: 1190 * time.Millisecond,
		},
		{
			name: "an indeterminate acquire without a crash is blamed as indeterminate, with its error",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 300, 50)
				b.op(history.OpAcquire, "g3w3", "k0", 300, 312, history.EvInfo, history.Event{Error: "i/o timeout"})
				b.refused("k0", 320, 1500, 40)
				return b
			},
			stuck: "k0 stuck since 0.31s: g3w3's acquire at 0.31s was indeterminate: i/o timeout",
			since: 312 * time.Millisecond, until: 1481 * time.Millisecond, faultFree: 1169 * time.Millisecond,
		},
		{
			name: "an acquire that never completed is blamed as such",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 300, 50)
				b.op(history.OpAcquire, "g3w3", "k0", 305, 0, "", history.Event{})
				b.refused("k0", 320, 1500, 40)
				return b
			},
			stuck: "k0 stuck since 0.30s: g3w3's acquire at 0.30s never completed",
			since: 305 * time.Millisecond, until: 1481 * time.Millisecond, faultFree: 1176 * time.Millisecond,
		},
		{
			name: "a crashed acquire is blamed over indeterminate acquires before and after it",
			history: func() *hb {
				b := crashedKey(ttl100, 1500)
				b.op(history.OpAcquire, "g3w3", "k0", 290, 305, history.EvInfo, history.Event{Error: "i/o timeout"})
				b.op(history.OpAcquire, "g3w2", "k0", 400, 420, history.EvInfo, history.Event{Error: "i/o timeout"})
				return b
			},
			stuck: "k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate",
			since: 311 * time.Millisecond, until: 1481 * time.Millisecond, faultFree: 1170 * time.Millisecond,
		},
		{
			name: "a key whose winners a stall froze, each acquire then ending indeterminate and its worker living on, is not stuck",
			history: func() *hb {
				b := newHB(ttl100)
				b.cycles("k0", 0, 300, 50)
				// Each a winner frozen until its acquire failed; each worker then went on (a refusal after it).
				b.stalled("g3w3", 302)
				b.stalled("g2w2", 427)
				b.stalled("g1w1", 767)
				b.op(history.OpAcquire, "g3w3", "k0", 300, 420, history.EvInfo, history.Event{Error: "fence written back to 0 of 5 nodes"})
				b.op(history.OpAcquire, "g3w3", "k0", 430, 440, history.EvFail, history.Event{Error: "lock: not acquired"})
				b.op(history.OpAcquire, "g2w2", "k0", 425, 760, history.EvInfo, history.Event{Error: "fence written back to 0 of 5 nodes"})
				b.op(history.OpAcquire, "g2w2", "k0", 770, 780, history.EvFail, history.Event{Error: "lock: not acquired"})
				b.op(history.OpAcquire, "g1w1", "k0", 765, 1100, history.EvInfo, history.Event{Error: "fence written back to 0 of 5 nodes"})
				b.op(history.OpAcquire, "g1w1", "k0", 1110, 1120, history.EvFail, history.Event{Error: "lock: not acquired"})
				b.refused("k0", 320, 1400, 40)
				return b
			},
		},
		{
			name: "a key set for good by a crash stays stuck, and blamed on it, after a stalled worker's indeterminate acquire",
			history: func() *hb {
				b := crashedKey(ttl100, 1500)
				b.stalled("g3w2", 405)
				b.op(history.OpAcquire, "g3w2", "k0", 400, 420, history.EvInfo, history.Event{Error: "i/o timeout"})
				b.op(history.OpAcquire, "g3w2", "k0", 430, 440, history.EvFail, history.Event{Error: "lock: not acquired"})
				return b
			},
			stuck: "k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate",
			since: 311 * time.Millisecond, until: 1481 * time.Millisecond, faultFree: 1050 * time.Millisecond, // 0.40-0.52s excused by g3w2's acquire
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.history()
			r := Check(&b.h, tc.opts)
			if tc.stuck == "" {
				if r.Liveness.Verdict != LivenessOK || r.Stuck() || len(r.Liveness.Stuck) != 0 {
					t.Fatalf("liveness %s %v, want ok\n%s", r.Liveness.Verdict, r.Liveness.Stuck, r.Text())
				}
				return
			}
			if r.Liveness.Verdict != LivenessStuck || !r.Stuck() || len(r.Liveness.Stuck) != 1 {
				t.Fatalf("liveness %s %v, want one key stuck\n%s", r.Liveness.Verdict, r.Liveness.Stuck, r.Text())
			}
			s := r.Liveness.Stuck[0]
			eq(t, "sentence", s.String(), tc.stuck)
			eq(t, "since", s.Since, tc.since)
			eq(t, "until", s.Until, tc.until)
			eq(t, "fault-free", s.FaultFree, tc.faultFree)
		})
	}
}

func TestAStuckKeyCountsTheAttemptsSinceItWasTaken(t *testing.T) {
	b := crashedKey(ttl100, 1500)
	s := Check(&b.h, Options{}).Liveness.Stuck
	// Refusals every 40 ms from 320 to 1480 ms.
	eq(t, "attempts", s[0].Attempts, (1480-320)/40+1)
}

func TestStuckKeysAreListedByKeyEachWithItsLongestStuckGap(t *testing.T) {
	b := newHB(ttl100)
	// k1: stuck from 1 ms to 1501 ms, then granted once; nobody tries after.
	b.cycle("g3w1", "k1", 0)
	b.refused("k1", 20, 1480, 40)
	b.cycle("g3w2", "k1", 1500)
	// k0: stuck for 600 ms, granted, then stuck for 909 ms to the end (k1's last release at 1510 ms).
	b.cycle("g3w3", "k0", 0)
	b.refused("k0", 20, 580, 40)
	b.cycle("g3w1", "k0", 600)
	b.refused("k0", 620, 1500, 40)
	r := Check(&b.h, Options{})
	var keys []string
	for _, s := range r.Liveness.Stuck {
		keys = append(keys, s.Key)
	}
	eq(t, "keys", keys, []string{"k0", "k1"})
	eq(t, "k0 since", r.Liveness.Stuck[0].Since, 601*time.Millisecond)
	eq(t, "k0 until", r.Liveness.Stuck[0].Until, 1510*time.Millisecond)
	eq(t, "k1 since", r.Liveness.Stuck[1].Since, time.Millisecond)
	eq(t, "k1 until", r.Liveness.Stuck[1].Until, 1501*time.Millisecond)
}

func TestAHistoryWithoutATTLInItsHeaderAssumesOneSecondAndSaysSo(t *testing.T) {
	note := "the history's header records no lock TTL: the liveness verdict assumed 1s"
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		until int
		stuck bool
		noted bool
	}{
		{"a gap of 4.5 s without a TTL is ok: five TTLs of 1 s are 5 s", 0, 4500, false, true},
		{"a gap of 5.5 s without a TTL is stuck", 0, 5500, true, true},
		{"a gap of 4.5 s with a TTL of 100 ms in the header is stuck, and nothing is noted", ttl100, 4500, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := crashedKey(tc.ttl, tc.until)
			r := Check(&b.h, Options{})
			eq(t, "stuck", r.Stuck(), tc.stuck)
			eq(t, "noted", slices.Contains(r.Notes, note), tc.noted)
			want := tc.ttl
			if want == 0 {
				want = time.Second
			}
			eq(t, "ttl", r.Liveness.TTL, want)
		})
	}
	r := Check(&history.History{}, Options{})
	eq(t, "an empty history is ok", r.Liveness.Verdict, LivenessOK)
	eq(t, "and needs no TTL", slices.Contains(r.Notes, note), false)
}

func TestTheTTLIsReadFromTheLockOptionsOfTheHeadersConfig(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   time.Duration
		ok     bool
	}{
		{`{"lock":{"ttl":250000000}}`, 250 * time.Millisecond, true},
		{`{"scenario":{"ttl":"2s"},"lock":{"ttl":2000000000,"retries":20}}`, 2 * time.Second, true},
		{`{"lock":{"ttl":"300ms"}}`, 300 * time.Millisecond, true},
		{`{"lock":{"ttl":0}}`, time.Second, false},
		{`{"lock":{}}`, time.Second, false},
		{`{"scenario":{"ttl":"2s"}}`, time.Second, false},
		{`not json`, time.Second, false},
		{``, time.Second, false},
	} {
		got, ok := lockTTL(history.Header{Config: json.RawMessage(tc.config)})
		if got != tc.want || ok != tc.ok {
			t.Errorf("lockTTL(%s) = %s %v, want %s %v", tc.config, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAStuckKeyLeavesTheSafetyVerdictAndItsExitCodeAlone(t *testing.T) {
	b := crashedKey(ttl100, 1500)
	r := Check(&b.h, Options{MinCriticalSections: 1})
	eq(t, "verdict", r.Verdict, Valid)
	eq(t, "exit code", r.Verdict.ExitCode(), 0)
	eq(t, "stuck", r.Stuck(), true)
}

func TestTheSummaryEndsWithTheFirstStuckKeyAndHowManyMore(t *testing.T) {
	b := crashedKey(ttl100, 1500)
	r := Check(&b.h, Options{MinCriticalSections: 1})
	eq(t, "one key", r.Summary(), "valid: 6 critical sections on 1 key, none overlapping, linearizable; "+
		"stuck: k0 since 0.31s (g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate)")

	b.refused("k1", 0, 1500, 40)
	b.refused("k2", 0, 1500, 40)
	r = Check(&b.h, Options{MinCriticalSections: 1})
	if !strings.HasSuffix(r.Summary(), "indeterminate) and 2 more keys") {
		t.Errorf("summary %q does not count the other stuck keys", r.Summary())
	}

	healthy := newHB(ttl100)
	healthy.cycles("k0", 0, 1500, 50)
	if s := Check(&healthy.h, Options{}).Summary(); strings.Contains(s, "stuck") {
		t.Errorf("the summary of a healthy run mentions being stuck: %q", s)
	}
}

func TestTheTextGivesTheLivenessVerdictAndEveryStuckKey(t *testing.T) {
	b := crashedKey(ttl100, 1500)
	b.refused("k1", 0, 1500, 40)
	txt := Check(&b.h, Options{}).Text()
	for _, s := range []string{
		"liveness: stuck — 2 keys nobody could take for 5 fault-free TTLs (TTL 100ms) while workers kept trying",
		"  1. k0 stuck since 0.31s: g1w4 crashed between-setnx-and-expire, leaving its acquire at 0.31s indeterminate (until 1.48s; 1.17s fault-free; 30 attempts)",
		"  2. k1 stuck since 0.00s: never granted (until 1.48s; 1.48s fault-free; 38 attempts)",
		"liveness figures:",
	} {
		if !strings.Contains(txt, s) {
			t.Errorf("text lacks %q:\n%s", s, txt)
		}
	}
	healthy := newHB(ttl100)
	healthy.cycles("k0", 0, 1500, 50)
	want := "liveness: ok — no key went 5 fault-free TTLs (TTL 100ms) without a grant while workers kept trying"
	if txt := Check(&healthy.h, Options{}).Text(); !strings.Contains(txt, want) {
		t.Errorf("text lacks %q:\n%s", want, txt)
	}
}

func TestTheVerdictJSONCarriesTheLivenessVerdictAndTheStuckKeys(t *testing.T) {
	b := crashedKey(ttl100, 1500)
	j, err := json.Marshal(Check(&b.h, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Liveness map[string]json.RawMessage `json:"liveness"`
	}
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	eq(t, "verdict", string(m.Liveness["verdict"]), `"stuck"`)
	var stuck []map[string]any
	if err := json.Unmarshal(m.Liveness["stuck"], &stuck); err != nil || len(stuck) != 1 {
		t.Fatalf("stuck %s: %v", m.Liveness["stuck"], err)
	}
	var names []string
	for k := range stuck[0] {
		names = append(names, k)
	}
	slices.Sort(names)
	eq(t, "fields", names, []string{"attempts", "fault_free_ns", "key", "last", "since_ns", "until_ns"})
	eq(t, "since", stuck[0]["since_ns"], any(float64(311*msNS)))
	if _, ok := m.Liveness["all"]; !ok {
		t.Error("the liveness figures are gone")
	}

	healthy := newHB(ttl100)
	healthy.cycles("k0", 0, 1500, 50)
	j, _ = json.Marshal(Check(&healthy.h, Options{}).Liveness)
	if !strings.Contains(string(j), `"verdict":"ok"`) || strings.Contains(string(j), `"stuck":`) {
		t.Errorf("a healthy run's liveness: %s", j)
	}
}

func TestMeasureLivenessGivesTheVerdictToo(t *testing.T) {
	b := crashedKey(ttl100, 1500)
	l := MeasureLiveness(&b.h)
	eq(t, "verdict", l.Verdict, LivenessStuck)
	eq(t, "key", len(l.Stuck), 1)
}

func TestTheTestdataClientThatCrashedBetweenSETNXAndPEXPIRELeavesItsKeyStuckAndTheRunValid(t *testing.T) {
	r := Check(load(t, "stuck-setnx-expire.jsonl"), Options{})
	eq(t, "safety", r.Verdict, Valid)
	eq(t, "ttl from the header", r.Liveness.TTL, 200*time.Millisecond)
	if len(r.Liveness.Stuck) != 1 {
		t.Fatalf("stuck %+v, want k1 alone (k0 stays healthy)", r.Liveness.Stuck)
	}
	s := r.Liveness.Stuck[0]
	eq(t, "key", s.Key, "k1")
	eq(t, "since the crashed acquire", s.Since, 1001*time.Millisecond)
	eq(t, "until the end", s.Until, 3000*time.Millisecond)
	// The client-crash window (0.995–1.095 s) stops g1w4 only: it is no excuse, and all the time is fault-free.
	eq(t, "fault-free", s.FaultFree, (3000-1001)*time.Millisecond)
	eq(t, "attempts", s.Attempts, 15)
	eq(t, "last", s.Last, "g1w4 crashed between-setnx-and-expire, leaving its acquire at 1.00s indeterminate")
	if !strings.HasSuffix(r.Summary(), "; stuck: k1 since 1.00s (g1w4 crashed between-setnx-and-expire, leaving its acquire at 1.00s indeterminate)") {
		t.Errorf("summary %q", r.Summary())
	}
}

func TestOddHistoriesGiveWellFormedStuckKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stuckSeen := 0
	for range 3000 {
		data := make([]byte, 7*(1+rng.IntN(60)))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		h := eventsFrom(data)
		// A TTL of 2 µs against times of ±128 µs, so that the odd histories have gaps long enough to be stuck.
		h.Header.Config = json.RawMessage(`{"lock":{"ttl":2000}}`)
		r := Check(h, Options{StuckTTLs: 2})
		l := r.Liveness
		if (l.Verdict == LivenessStuck) != (len(l.Stuck) > 0) || (l.Verdict != LivenessStuck && l.Verdict != LivenessOK) {
			t.Fatalf("verdict %q with %d stuck keys", l.Verdict, len(l.Stuck))
		}
		for i, s := range l.Stuck {
			if i > 0 && l.Stuck[i-1].Key >= s.Key {
				t.Fatalf("stuck keys not sorted and unique: %+v", l.Stuck)
			}
			if s.Since > s.Until || s.FaultFree < 0 || s.FaultFree > s.Until-s.Since || s.Attempts < 0 || s.Last == "" {
				t.Fatalf("malformed stuck key %+v", s)
			}
		}
		stuckSeen += len(l.Stuck)
	}
	if stuckSeen == 0 {
		t.Fatal("no odd history was stuck: the test exercises nothing")
	}
}

func TestAClientFaultsWindowIsNoExcuseForAKeyNobodyCanTake(t *testing.T) {
	windows := []FaultWindow{
		{Name: "client-crash", Targets: []string{"g1w4", "g2w1"}},
		{Name: "partition", Targets: []string{"g1->n1"}},
		{Name: "pause", Targets: []string{"n2"}},
		{Name: "mystery"},
	}
	var kept []string
	for _, w := range progressFaults(windows) {
		kept = append(kept, w.Name)
	}
	if strings.Join(kept, ",") != "partition,pause,mystery" {
		t.Fatalf("kept %v: the windows of faults aimed at workers only must not count", kept)
	}
}

func TestAStuckVerdictTheRunCannotBlameOnTheLockBecomesUnknownAndSaysWhy(t *testing.T) {
	stuck := Liveness{Verdict: LivenessStuck, TTL: time.Second, StuckTTLs: 5, Stuck: []StuckKey{{Key: "k0", Since: 2 * time.Second}}}
	stuck.Distrust("the machine was overloaded")
	if stuck.Verdict != LivenessUnknown || len(stuck.Stuck) != 1 {
		t.Fatalf("a distrusted stuck verdict: got %q with %d keys, want unknown keeping its key", stuck.Verdict, len(stuck.Stuck))
	}
	r := Result{Verdict: Valid, Reason: "20 critical sections", Liveness: stuck}
	if r.Stuck() {
		t.Fatal("a distrusted verdict still reads as stuck")
	}
	if s := r.Summary(); !strings.Contains(s, "liveness unknown: the machine was overloaded") {
		t.Fatalf("the summary does not say why liveness is unknown: %s", s)
	}
	ok := Liveness{Verdict: LivenessOK}
	ok.Distrust("the machine was overloaded")
	if ok.Verdict != LivenessOK {
		t.Fatalf("a run that found no stuck key: distrust made it %q", ok.Verdict)
	}
}
