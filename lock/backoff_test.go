package lock

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestRetriesBackOffExponentiallyWithJitterUpToTheCap(t *testing.T) {
	o := NewOptions(WithTTL(time.Second), WithRetries(10, 20*time.Millisecond), WithRand(rand.New(rand.NewPCG(1, 2))))
	if o.RetryMaxDelay != 250*time.Millisecond {
		t.Fatalf("default cap %s, want TTL/4 = 250ms", o.RetryMaxDelay)
	}
	for _, tc := range []struct {
		name  string
		retry int
		base  time.Duration
	}{
		{"the first retry waits about the base delay", 0, 20 * time.Millisecond},
		{"each retry doubles the wait", 2, 80 * time.Millisecond},
		{"the wait stops growing at the cap", 9, 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				if d := o.Backoff(tc.retry); d < tc.base/2 || d >= tc.base*3/2 {
					t.Fatalf("Backoff(%d) = %s, want within [%s, %s)", tc.retry, d, tc.base/2, tc.base*3/2)
				}
			}
		})
	}
}

func TestTheBackoffCapIsNeverBelowTheBaseDelay(t *testing.T) {
	o := NewOptions(WithTTL(40*time.Millisecond), WithRetries(3, 20*time.Millisecond))
	if o.RetryMaxDelay != 20*time.Millisecond {
		t.Fatalf("cap %s below the base delay", o.RetryMaxDelay)
	}
}
