package lock_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/redlock-harness/redlock-harness/lock"
)

func TestEveryStrategyIsRegisteredAndDescribed(t *testing.T) {
	want := []string{"fenced", "get-del", "lua", "lua-watchdog", "lua-watchdog-cancel", "redlock", "redlock-naive",
		"redsync", "setnx-del", "setnx-expire"}
	if got := lock.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, info := range lock.All() {
		if info.Summary == "" || info.Origin == "" || info.Weakness == "" {
			t.Errorf("%s: Summary %q, Origin %q, Weakness %q: none may be empty", info.Name, info.Summary, info.Origin, info.Weakness)
		}
		if info.Make == nil || info.Make().Name() != info.Name {
			t.Errorf("%s: Make builds a strategy of another name", info.Name)
		}
		if info.Fenced != (info.Name == "fenced") {
			t.Errorf("%s: Fenced = %v", info.Name, info.Fenced)
		}
	}
}

func TestRetriesZeroMeansASingleTryAndUnsetMeansTwenty(t *testing.T) {
	tests := []struct {
		name string
		opt  lock.Options
		want int
	}{
		{"nothing set takes the default", lock.NewOptions(), 20},
		{"WithRetries(0) is no retry", lock.NewOptions(lock.WithRetries(0, time.Millisecond)), 0},
		{"a negative count is no retry", lock.NewOptions(lock.WithRetries(-3, 0)), 0},
		{"WithRetries(5) is five", lock.NewOptions(lock.WithRetries(5, 0)), 5},
		{"the delay alone keeps the default count", lock.NewOptions(lock.WithRetryDelay(time.Second)), 20},
		{"a literal zero is unset", lock.Options{}.WithDefaults(), 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opt.Retries != tc.want {
				t.Fatalf("Retries = %d, want %d", tc.opt.Retries, tc.want)
			}
			// Strategies apply the defaults again to the options they are given: that must change nothing.
			if again := tc.opt.WithDefaults(); again.Retries != tc.want {
				t.Fatalf("defaults applied twice: Retries = %d, want %d", again.Retries, tc.want)
			}
			// As recorded in config.json and read back.
			b, err := json.Marshal(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var back lock.Options
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if got := back.WithDefaults().Retries; got != tc.want {
				t.Fatalf("after a JSON round trip of %s: Retries = %d, want %d", b, got, tc.want)
			}
		})
	}
	var noKey lock.Options
	if err := json.Unmarshal([]byte(`{"ttl": 1000000000}`), &noKey); err != nil {
		t.Fatal(err)
	}
	if got := noKey.WithDefaults().Retries; got != 20 {
		t.Fatalf("JSON without retries: Retries = %d, want the default 20", got)
	}
}
