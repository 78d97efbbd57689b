package lock

import (
	"math/rand/v2"
	"time"
)

// Options are the knobs every strategy shares. Strategies ignore those that do not apply to them (a single-node
// lock has no drift factor). Build them with NewOptions and the With... functions; the zero value is not useful.
type Options struct {
	// TTL is the lock's time to live on the servers. Default 1s.
	TTL time.Duration `json:"ttl"`
	// AcquireTimeout bounds one Acquire call, retries included. Default 2 × TTL.
	AcquireTimeout time.Duration `json:"acquire_timeout"`
	// Retries is how many times Acquire tries again after the lock was found held. Default 20.
	Retries int `json:"retries"`
	// RetryDelay is the base delay between tries; each wait is drawn uniformly from [RetryDelay/2, RetryDelay×1.5)
	// so that contenders do not retry in lock step. Default 20ms.
	RetryDelay time.Duration `json:"retry_delay"`
	// NodeTimeout bounds each command to one node, so that one dead node cannot eat the whole validity of a
	// multi-node lock. Default TTL/20 (50ms for a 1s TTL), as Redlock recommends (a small fraction of the TTL).
	NodeTimeout time.Duration `json:"node_timeout"`
	// DriftFactor is the fraction of the TTL Redlock subtracts for clock drift between nodes. Default 0.01.
	DriftFactor float64 `json:"drift_factor"`
	// Rand draws tokens and retry jitter. The harness seeds it from the run's seed. Default: a random source.
	Rand *rand.Rand `json:"-"`
	// Now is the holder's local clock. Default time.Now.
	Now func() time.Time `json:"-"`
}

// Option changes one field of Options.
type Option func(*Options)

// WithTTL sets the lock's time to live.
func WithTTL(d time.Duration) Option { return func(o *Options) { o.TTL = d } }

// WithAcquireTimeout bounds one Acquire call.
func WithAcquireTimeout(d time.Duration) Option { return func(o *Options) { o.AcquireTimeout = d } }

// WithRetries sets how many times Acquire tries again, waiting about delay between tries.
func WithRetries(n int, delay time.Duration) Option {
	return func(o *Options) { o.Retries, o.RetryDelay = n, delay }
}

// WithNodeTimeout bounds each command to one node.
func WithNodeTimeout(d time.Duration) Option { return func(o *Options) { o.NodeTimeout = d } }

// WithDriftFactor sets Redlock's clock-drift allowance as a fraction of the TTL.
func WithDriftFactor(f float64) Option { return func(o *Options) { o.DriftFactor = f } }

// WithRand sets the source of tokens and jitter; pass one seeded from the run's seed for reproducible runs.
func WithRand(r *rand.Rand) Option { return func(o *Options) { o.Rand = r } }

// WithClock sets the holder's local clock.
func WithClock(now func() time.Time) Option { return func(o *Options) { o.Now = now } }

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
	} else if o.Retries == 0 {
		o.Retries = 20
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 20 * time.Millisecond
	}
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

// Jitter returns a retry wait drawn from [RetryDelay/2, RetryDelay×1.5).
func (o Options) Jitter() time.Duration {
	d := int64(o.RetryDelay)
	if d <= 0 {
		return 0
	}
	return time.Duration(d/2 + o.Rand.Int64N(d))
}
