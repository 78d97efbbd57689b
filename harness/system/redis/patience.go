package redis

import (
	"context"
	"reflect"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// patientConns is a go-redis hook that gives up on a command at its context's deadline without giving up on its
// connection. go-redis, told to honour context deadlines, closes a connection whose command outlived its deadline
// (the reply may still come and would be read as the next command's). With a Redlock's per-node timeout of a few
// tens of milliseconds that turns one slow moment into a storm: the next command must dial a new connection
// through the proxy and get its reply inside the same few milliseconds, misses, closes that one too, and so on; two
// multi-node runs side by side on two CPUs were seen to collapse that way and write no critical section for the
// rest of the run, a stall of the harness passed off as the lock's.
//
// With the hook, a command whose context has a short deadline (patientBelow) runs on a copy, under the connection's own read and write
// timeouts, on a goroutine of its own; the caller gets the copy's result if it comes before the deadline, and the
// deadline's error otherwise, exactly as before. The late reply is then read off its connection, which goes back
// to the pool. What the lock sees is unchanged: no answer within its timeout, and a command that may or may not
// have been applied; only the connection survives.
//
// A command that finds every connection of the pool busy (each with a late command of its own) and none idle runs
// as go-redis runs it: it waits for a connection until its deadline and, given none, is never sent. On a copy it
// would wait on (up to the pool's timeout, seconds) and be sent long after its caller gave up: a fault that keeps
// the pool busy, a partition that loses every byte, would see a burst at its heal of commands no real client ever
// wrote, and a lock's release of a failed try could land after its next try won. The pool is read just before the
// copy starts: a command that loses the last idle connection to another in between still waits on its copy, for
// at most the pool's timeout, a race the hook narrows but cannot close from outside go-redis's pool.
type patientConns struct {
	// pool reads the client's pool: its size and how many of its connections are idle.
	pool func() (size int, stats *goredis.PoolStats)
}

var _ goredis.Hook = patientConns{}

// patientBelow is the longest deadline the hook takes over: per-node timeouts (Redlock's 25-50 ms), where a new
// connection's dial and first command cannot fit. A command with more time left (a single-node lock's acquire,
// release or renewal, given a TTL or more) runs as go-redis runs it.
const patientBelow = 200 * time.Millisecond

// DialHook leaves dialling alone.
func (patientConns) DialHook(next goredis.DialHook) goredis.DialHook { return next }

// ProcessPipelineHook leaves pipelines alone: no strategy sends one under a short deadline.
func (patientConns) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// ProcessHook runs a command with a deadline on a copy, as above.
func (h patientConns) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > patientBelow {
			return next(ctx, cmd)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if h.pool != nil {
			if size, st := h.pool(); st != nil && st.IdleConns == 0 && int(st.TotalConns) >= size {
				return next(ctx, cmd) // it must wait for a connection: only until its deadline
			}
		}
		v := reflect.ValueOf(cmd)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return next(ctx, cmd)
		}
		// A shallow copy of the command (its arguments are only read): the caller's cmd is never touched by the
		// goroutine, which may still be writing the copy's reply after the caller has moved on.
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		clone := cp.Interface().(goredis.Cmder)
		done := make(chan error, 1)
		go func() { done <- next(context.WithoutCancel(ctx), clone) }()
		select {
		case err := <-done:
			v.Elem().Set(cp.Elem())
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
