package workload

import (
	"errors"
	"testing"

	"github.com/redlock-harness/redlock-harness/history"
)

// access is one step against the resource: a read or a write of key "k" with a fencing token.
type access struct {
	write bool
	fence int64
	// want is true when the access must be accepted.
	want bool
}

func TestAFencedResourceRejectsEveryAccessWithATokenBelowTheHighestSeen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fenced bool
		steps  []access
	}{
		{"a stale holder's write after a newer holder's read is rejected", true, []access{
			{false, 5, true}, {false, 6, true}, {true, 5, false}, {true, 6, true},
		}},
		{"a stale holder's read after a newer holder's write is rejected", true, []access{
			{false, 6, true}, {true, 6, true}, {false, 5, false},
		}},
		{"equal tokens are accepted, so one holder may read then write", true, []access{
			{false, 7, true}, {true, 7, true}, {false, 7, true}, {true, 7, true},
		}},
		{"an unfenced resource accepts every token", false, []access{
			{false, 6, true}, {true, 6, true}, {false, 1, true}, {true, 0, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResource(history.NewClock(), tc.fenced)
			rejected := int64(0)
			for i, s := range tc.steps {
				var err error
				if s.write {
					_, err = r.Write("k", int64(i), s.fence)
				} else {
					_, _, err = r.Read("k", s.fence)
				}
				if got := err == nil; got != s.want {
					t.Fatalf("step %d (write=%v fence=%d): accepted=%v, want %v (err %v)", i, s.write, s.fence, got, s.want, err)
				}
				if err != nil {
					rejected++
					if !errors.Is(err, ErrFenced) {
						t.Fatalf("step %d: %v, want ErrFenced", i, err)
					}
				}
			}
			if r.Rejected() != rejected {
				t.Fatalf("Rejected() = %d, want %d", r.Rejected(), rejected)
			}
		})
	}
}

func TestARejectedWriteLeavesTheValueUnchanged(t *testing.T) {
	r := NewResource(history.NewClock(), true)
	if _, err := r.Write("k", 41, 9); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write("k", 99, 3); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale write: %v", err)
	}
	if v := r.Value("k"); v != 41 {
		t.Fatalf("value %d after a rejected write, want 41", v)
	}
}

func TestAWriteThatFindsTheCounterMovedSinceItsReadCountsALostUpdate(t *testing.T) {
	r := NewResource(history.NewClock(), false)
	a, _, _ := r.Read("k", 0)
	b, _, _ := r.Read("k", 0) // b reads before a writes: the sections overlap
	if _, err := r.Write("k", a+1, 0); err != nil {
		t.Fatal(err)
	}
	if r.LostUpdates() != 0 {
		t.Fatal("the first write of two overlapping sections cannot know yet")
	}
	if _, err := r.Write("k", b+1, 0); err != nil {
		t.Fatal(err)
	}
	if r.LostUpdates() != 1 {
		t.Fatalf("lost updates %d, want 1", r.LostUpdates())
	}
	c, _, _ := r.Read("k", 0)
	if _, err := r.Write("k", c+1, 0); err != nil || r.LostUpdates() != 1 {
		t.Fatalf("a section alone counted a lost update: %d, %v", r.LostUpdates(), err)
	}
}
