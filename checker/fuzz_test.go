package checker

import (
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/history"
)

// eventsFrom decodes arbitrary bytes into an event sequence, seven bytes an event, so that the fuzzer explores
// odd histories (completions without invocations, repeated ids, times out of order, heals without injects,
// negative validity) rather than malformed JSON, which the history reader rejects before the checker runs.
func eventsFrom(data []byte) *history.History {
	evKinds := []string{history.EvInvoke, history.EvOK, history.EvFail, history.EvInfo, history.EvFault, "other"}
	opKinds := []string{history.OpCS, history.OpCS, history.OpAcquire, history.OpExtend, history.OpRelease, ""}
	reasons := []string{"", history.ReasonLeaseExpired, history.ReasonFenced, reasonLeaseLost}
	h := &history.History{Header: history.Header{Fenced: len(data)%2 == 0, MinCriticalSections: int(len(data) % 5)}}
	for len(data) >= 7 {
		b := data[:7]
		data = data[7:]
		e := history.Event{
			Ev:     evKinds[int(b[0])%len(evKinds)],
			Op:     opKinds[int(b[1])%len(opKinds)],
			ID:     int64(b[2] % 16),
			T:      int64(int8(b[3])) * 1000,
			Worker: []string{"a", "b", "c", ""}[b[4]&3],
			Key:    []string{"k0", "k1"}[(b[4]>>2)&1],
			Reason: reasons[(b[4]>>3)&3],
			Fence:  int64(b[6] & 7),
		}
		if b[4]&0x20 != 0 {
			e.Read = history.Int(int64(b[5] & 7))
		}
		if b[4]&0x40 != 0 {
			e.Wrote = history.Int(int64(b[5]>>3) & 7)
		}
		if b[4]&0x80 != 0 {
			e.ValidNS = history.Int(int64(int8(b[6])) * 100)
		}
		if e.Ev == history.EvFault {
			e.Name = []string{"partition", "pause"}[b[1]&1]
			e.Phase = []string{history.PhaseInject, history.PhaseHeal, ""}[int(b[2])%3]
			e.Targets = [][]string{nil, {"n1"}}[b[6]&1]
		}
		h.Events = append(h.Events, e)
	}
	return h
}

// FuzzCheck checks that no sequence of events makes Check, the result's encodings or the visualisation panic, and
// that the verdict is always one of the three.
func FuzzCheck(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0x61, 0, 1, 1, 0, 1, 5, 0x61, 9, 1})
	f.Add([]byte{0, 0, 1, 1, 0x61, 0, 1, 0, 0, 2, 2, 0x61, 0, 1, 1, 0, 1, 5, 0x61, 9, 1, 1, 0, 2, 6, 0x61, 9, 1})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 4, 0, 1, 50, 0, 0, 0})
	if b, err := os.ReadFile("testdata/both-causes.jsonl"); err == nil {
		f.Add(b[:min(len(b), 700)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := eventsFrom(data)
		r := Check(h, Options{Timeout: 2 * time.Second, MaxVisualized: 50})
		switch r.Verdict {
		case Valid, Invalid, Unknown:
		default:
			t.Fatalf("verdict %q", r.Verdict)
		}
		if r.Overlap.Count > 0 && r.Verdict != Invalid {
			t.Fatalf("overlap found %d pairs but the verdict is %s", r.Overlap.Count, r.Verdict)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
		_ = r.Summary()
		_ = r.Text()
		if err := r.Visualize(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}
