package lock

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"time"
)

// Options are the knobs every strategy shares. Strategies ignore those that do not apply to them (a single-node
// lock has no drift factor). Build them with NewOptions and the With... functions; the zero value is not useful.
type Options struct {
	// TTL is the lock's time to live on the servers. Default 1s.
	TTL time.Duration `json:"ttl"`
	// AcquireTimeout bounds one Acquire call, retries included. Default 2 × TTL.
	AcquireTimeout time.Duration `json:"acquire_timeout"`
	// Retries is how many times Acquire tries again after the lock was found held. Default 20 when it was never
	// set; WithRetries(0, …) means no retry at all (a single try), and so does a negative value. Because 0 is both
	// "unset" and "no retry", whether it was set is remembered beside it (and restored from JSON when the
	// "retries" key is present), so that applying the defaults again never turns "no retry" into 20.
	Retries int `json:"retries"`
	// RetryDelay is the base delay between tries. The wait before retry i (0-based) backs off exponentially,
	// RetryDelay×2^i capped at RetryMaxDelay, and is drawn uniformly from [d/2, d×1.5) of that value so that
	// contenders do not retry in lock step (see Backoff). Default 20ms.
	RetryDelay time.Duration `json:"retry_delay"`
	// RetryMaxDelay caps the backoff, so that a lock freed after a long fault is retried within a fraction of a
	// TTL. Default TTL/4, and never below RetryDelay.
	RetryMaxDelay time.Duration `json:"retry_max_delay"`
	// NodeTimeout bounds each command to one node, so that one dead node cannot eat the whole validity of a
	// multi-node lock. Default TTL/20 (50ms for a 1s TTL), as Redlock recommends (a small fraction of the TTL).
	NodeTimeout time.Duration `json:"node_timeout"`
	// DriftFactor is the fraction of the TTL Redlock subtracts for clock drift between nodes. Default 0.01.
	DriftFactor float64 `json:"drift_factor"`
	// Rand draws tokens and retry jitter. The harness seeds it from the run's seed. Default: a random source.
	Rand *rand.Rand `json:"-"`
	// Now is the holder's local clock. Default time.Now.
	Now func() time.Time `json:"-"`
	// Step, when set, is called by the multi-step strategies at each named point between two of their commands
	// (the Step... constants), with the operation's context. Those gaps are where a client that dies or stalls
	// does its harm (a SETNX whose PEXPIRE never comes, a GET whose DEL lands on someone else's lock), and a test
	// cannot hit them by chance: Step lets it act there (pause, let a key expire, make another client acquire)
	// deterministically. A non-nil error aborts the operation at that point as a crashed client would: nothing
	// after it is sent, nothing is cleaned up, and the caller sees an indeterminate error. Default nil.
	Step func(ctx context.Context, point string) error `json:"-"`

	retriesSet bool
}

// The points at which strategies call Options.Step. Each names the gap between two commands of one operation.
// Failpoints (a client stalled or crashed at a named point, as etcd's robustness tests do with gofail) are
// scheduled at these points; every strategy's own points are listed by its Steps method (Stepper).
const (
	// StepAfterReplies: inside Acquire, once the servers' replies that grant the lock are in and before the lease
	// is computed and returned. A pause here is the one Redlock's validity check exists for: time passes between
	// the grant and the holder's belief in it.
	StepAfterReplies = "after-replies"
	// StepBetweenSetNXAndExpire: setnx-expire's acquire, after SETNX granted the key and before its PEXPIRE.
	StepBetweenSetNXAndExpire = "between-setnx-and-expire"
	// StepBetweenGetAndDel: get-del's release, after GET matched the token and before the DEL.
	StepBetweenGetAndDel = "between-get-and-del"
	// StepBetweenGetAndExpire: get-del's extend, after GET matched the token and before the PEXPIRE.
	StepBetweenGetAndExpire = "between-get-and-pexpire"
	// StepBetweenFenceRounds: fenced's acquire, after the INCR round fixed the token and before it is written
	// back to a majority.
	StepBetweenFenceRounds = "between-fence-rounds"
	// StepInRenewal: a renewal is due and about to be sent: by the worker before it calls Lease.Extend, or by a
	// watchdog before its renewal command.
	StepInRenewal = "in-renewal"
)

// The points every worker passes whatever its strategy: the workload calls Options.Step there itself.
const (
	// StepAfterAcquire: the holder has its lease and has not read the protected resource yet.
	StepAfterAcquire = "after-acquire"
	// StepBeforeWrite: the holder checked its lease's validity and is about to write: the gap no client-side check
	// can cover (a GC pause, a VM freeze).
	StepBeforeWrite = "before-write"
	// StepBeforeRelease: the holder is done and about to release.
	StepBeforeRelease = "before-release"
)

// WorkerSteps are the points the workload passes for every strategy, in the order a critical section meets them.
var WorkerSteps = []string{StepAfterAcquire, StepInRenewal, StepBeforeWrite, StepBeforeRelease}

// Stepper is implemented by strategies that call Options.Step at points of their own protocol, so that a
// failpoint aimed at a point a strategy does not have is reported as such instead of silently never firing.
type Stepper interface {
	// Steps lists the points of the strategy's own protocol (the Step... constants), beyond WorkerSteps.
	Steps() []string
}

// StepsOf returns every point a client of st passes: WorkerSteps and the strategy's own.
func StepsOf(st Strategy) []string {
	out := append([]string(nil), WorkerSteps...)
	if s, ok := st.(Stepper); ok {
		for _, p := range s.Steps() {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Option changes one field of Options.
type Option func(*Options)

// WithTTL sets the lock's time to live.
func WithTTL(d time.Duration) Option { return func(o *Options) { o.TTL = d } }

// WithAcquireTimeout bounds one Acquire call.
func WithAcquireTimeout(d time.Duration) Option { return func(o *Options) { o.AcquireTimeout = d } }

// WithRetries sets how many times Acquire tries again, waiting about delay between tries. n = 0 means a single
// try (it is not "unset"); a delay of 0 keeps the default delay.
func WithRetries(n int, delay time.Duration) Option {
	return func(o *Options) { o.Retries, o.RetryDelay, o.retriesSet = n, delay, true }
}

// WithRetryDelay sets the base delay between tries and leaves the number of retries alone, for callers that
// override the delay only.
func WithRetryDelay(d time.Duration) Option { return func(o *Options) { o.RetryDelay = d } }

// WithNodeTimeout bounds each command to one node.
func WithNodeTimeout(d time.Duration) Option { return func(o *Options) { o.NodeTimeout = d } }

// WithDriftFactor sets Redlock's clock-drift allowance as a fraction of the TTL.
func WithDriftFactor(f float64) Option { return func(o *Options) { o.DriftFactor = f } }

// WithRand sets the source of tokens and jitter; pass one seeded from the run's seed for reproducible runs.
func WithRand(r *rand.Rand) Option { return func(o *Options) { o.Rand = r } }

// WithClock sets the holder's local clock.
func WithClock(now func() time.Time) Option { return func(o *Options) { o.Now = now } }

// WithStep installs the hook the multi-step strategies call between their commands (see Options.Step).
func WithStep(f func(ctx context.Context, point string) error) Option {
	return func(o *Options) { o.Step = f }
}

// NewOptions applies opts over the documented defaults.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	return o.WithDefaults()
}

// WithDefaults fills every unset field with its documented default.
func (o Options) WithDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = time.Second
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = 2 * o.TTL
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 && !o.retriesSet {
		o.Retries = 20
	}
	o.retriesSet = true
	if o.RetryDelay <= 0 {
		o.RetryDelay = 20 * time.Millisecond
	}
	if o.RetryMaxDelay <= 0 {
		o.RetryMaxDelay = o.TTL / 4
	}
	o.RetryMaxDelay = max(o.RetryMaxDelay, o.RetryDelay)
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = o.TTL / 20
	}
	if o.DriftFactor <= 0 {
		o.DriftFactor = 0.01
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Backoff returns the wait before retry i (0-based): RetryDelay×2^i, capped at RetryMaxDelay, jittered to
// [d/2, d×1.5). Backing off matters under faults: two dozen contenders retrying a slow or cut-off node every few
// milliseconds would each open a new connection per timed-out try (a connection whose reply may still come is
// never reused), which floods the very network the fault slowed.
func (o Options) Backoff(i int) time.Duration {
	d := o.RetryDelay
	for ; i > 0 && d < o.RetryMaxDelay; i-- {
		d *= 2
	}
	if o.RetryMaxDelay > 0 {
		d = min(d, o.RetryMaxDelay)
	}
	return jitter(o, d)
}

func jitter(o Options, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(int64(d)/2 + o.Rand.Int64N(int64(d)))
}

// Jitter returns a retry wait drawn from [RetryDelay/2, RetryDelay×1.5), without backoff.
func (o Options) Jitter() time.Duration {
	d := int64(o.RetryDelay)
	if d <= 0 {
		return 0
	}
	return time.Duration(d/2 + o.Rand.Int64N(d))
}

// UnmarshalJSON reads Options as they are recorded (config.json) and remembers whether "retries" was present, so
// that a recorded "retries": 0 replays as no retry rather than as the default.
func (o *Options) UnmarshalJSON(b []byte) error {
	type plain Options // no methods: no recursion
	p := plain(*o)
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	_, has := keys["retries"]
	p.retriesSet = o.retriesSet || has
	*o = Options(p)
	return nil
}

// step is At, for this package's strategies.
func (o Options) step(ctx context.Context, point string) error { return o.At(ctx, point) }

// At calls the Step hook at point, when there is one: a strategy calls it at each point of its protocol where a
// client that pauses or dies does harm. Its error (the worker crashed there) is the caller's indeterminate
// outcome.
func (o Options) At(ctx context.Context, point string) error {
	if o.Step == nil {
		return nil
	}
	if err := o.Step(ctx, point); err != nil {
		return indeterminate(point, err)
	}
	return nil
}
