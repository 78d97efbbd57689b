package netem

import (
	"testing"
	"time"
)

func TestTheNextRetransmissionFollowsTCPsDoublingTimeout(t *testing.T) {
	sent := time.Unix(1000, 0)
	ms := func(n int) time.Time { return sent.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name string
		now  time.Time
		rto  time.Duration
		want time.Time
	}{
		{"a heal before the first timeout waits for it", ms(50), 200 * time.Millisecond, ms(200)},
		{"a heal right at a retransmission lets it through", ms(600), 200 * time.Millisecond, ms(600)},
		{"a heal between two tries waits for the next (200, 600, 1400, 3000 ms)", ms(1500), 200 * time.Millisecond, ms(3000)},
		{"after a cut of seconds the wait after the heal is as long again", ms(3100), 200 * time.Millisecond, ms(6200)},
		{"no timeout delivers at the heal", ms(1500), 0, ms(1500)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextRetransmission(sent, tc.now, tc.rto); !got.Equal(tc.want) {
				t.Fatalf("got %s after sending, want %s", got.Sub(sent), tc.want.Sub(sent))
			}
		})
	}
	if got := nextRetransmission(sent, sent.Add(time.Hour), time.Second); got.Sub(sent) > time.Hour+MaxRTO {
		t.Fatalf("the wait grew past MaxRTO: next try %s after sending", got.Sub(sent))
	}
}

func TestABytesSendTimeThatIsUnknownDeliversAtOnceInsteadOfCountingFromYearOne(t *testing.T) {
	now := time.Unix(1000, 0)
	if got := nextRetransmission(time.Time{}, now, 200*time.Millisecond); !got.Equal(now) {
		t.Fatalf("got %s, want the heal itself", got)
	}
}
