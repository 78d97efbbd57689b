package lock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redlock-harness/redlock-harness/lock"
)

func TestFencedTokensStrictlyIncreaseAcrossHoldersThatReachDifferentMajorities(t *testing.T) {
	ctx := context.Background()
	_, cs := nodes(t, 5)
	// Counters left unequal by earlier holders: 10, 5, 5, 1, 1.
	for i, v := range []int{10, 5, 5, 1, 1} {
		if err := cs[i].Set(ctx, lock.FenceKeyPrefix+"k", v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	x, y := deadNode(t), deadNode(t)
	// Each holder reaches its own majority. Taking the max of a majority's INCRs alone would hand the first 11
	// (from 10, 5, 5) and the second 7 (from 5, 1, 1): a stale write would pass. The write-back round makes the
	// second see 11 on the node the two majorities share.
	views := []struct {
		name  string
		nodes []redis.UniversalClient
		want  int64
	}{
		{"nodes 1-3", []redis.UniversalClient{cs[0], cs[1], cs[2], x, y}, 11},
		{"nodes 3-5", []redis.UniversalClient{x, y, cs[2], cs[3], cs[4]}, 12},
		{"all five", cs, 13},
	}
	var last int64
	for _, v := range views {
		lease, err := mk("fenced", v.nodes).Acquire(ctx, "k")
		if err != nil {
			t.Fatalf("holder on %s: %v", v.name, err)
		}
		if f := lease.Fence(); f <= last || f != v.want {
			t.Fatalf("holder on %s: token %d after %d, want %d", v.name, f, last, v.want)
		}
		last = lease.Fence()
		if err := lease.Release(ctx); err != nil {
			t.Fatalf("holder on %s: release: %v", v.name, err)
		}
	}
}

func TestFencedAcquireThatCannotFixItsTokenOnAMajority(t *testing.T) {
	spoil := func(ctx context.Context, cs []redis.UniversalClient) error {
		for _, c := range cs[2:] {
			if err := c.Set(ctx, lock.FenceKeyPrefix+"k", "not-a-number", 0).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	tests := []struct {
		name string
		// before runs before the acquisition; between is the Step hook at StepBetweenFenceRounds.
		before  func(t *testing.T, cs []redis.UniversalClient)
		between func(cs []redis.UniversalClient) func(ctx context.Context, point string) error
		// lockLeft says whether the lock stays on the nodes afterwards.
		lockLeft bool
	}{
		{
			name: "round 1 (INCR) fails on three nodes: the lock is released",
			before: func(t *testing.T, cs []redis.UniversalClient) {
				if err := spoil(context.Background(), cs); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "round 2 (write-back) fails on three nodes: the lock is released",
			between: func(cs []redis.UniversalClient) func(ctx context.Context, point string) error {
				return func(ctx context.Context, _ string) error { return spoil(ctx, cs) }
			},
		},
		{
			name: "the client dies between the rounds: the lock stays until it expires",
			between: func([]redis.UniversalClient) func(ctx context.Context, point string) error {
				return func(context.Context, string) error { return errors.New("client died") }
			},
			lockLeft: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, cs := nodes(t, 5)
			if tc.before != nil {
				tc.before(t, cs)
			}
			var opts []lock.Option
			if tc.between != nil {
				hook := tc.between(cs)
				opts = append(opts, lock.WithStep(func(ctx context.Context, point string) error {
					if point != lock.StepBetweenFenceRounds {
						return nil // another point of the protocol (after-replies): not the gap under test
					}
					return hook(ctx, point)
				}))
			}
			_, err := mk("fenced", cs, opts...).Acquire(ctx, "k")
			if err == nil || lock.IsDefinite(err) {
				t.Fatalf("acquire: %v, want an indeterminate error", err)
			}
			for i, c := range cs {
				if exists(t, c, "k") != tc.lockLeft {
					t.Fatalf("node %d: lock present = %v, want %v", i+1, !tc.lockLeft, tc.lockLeft)
				}
			}
		})
	}
}
