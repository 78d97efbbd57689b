package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAwaitEndsOnReadinessOnTheProcessExitingOrAtItsBound(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	notYet := errors.New("not yet")
	tests := []struct {
		name   string
		exited <-chan struct{}
		ready  func() error
		want   string
	}{
		{"a server that answers is ready", nil, func() error { return nil }, ""},
		{"a server whose process died is an error saying so", exited, func() error { return notYet }, "srv exited at start"},
		{"a server that never answers is an error at the bound, with its last error", nil, func() error { return notYet }, "srv was not ready within 100ms: not yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := Await(context.Background(), tc.exited, 100*time.Millisecond, "srv", tc.ready)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("Await took %s", time.Since(start))
			}
		})
	}
}
