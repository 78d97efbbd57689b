package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Writer streams events to a file as JSON lines. Every line is flushed to the operating system soon after it is
// recorded (at most FlushEvery later), so a crash or Ctrl-C loses at most the last few milliseconds of a run.
// It is safe for concurrent use by every worker and the nemesis.
type Writer struct {
	mu     sync.Mutex
	f      io.WriteCloser
	bw     *bufio.Writer
	enc    *json.Encoder
	clock  Clock
	nextID int64
	err    error
	done   chan struct{}
	closed bool
	count  int64
}

// FlushEvery bounds how long a recorded event may sit in memory before it reaches the file.
const FlushEvery = 50 * time.Millisecond

// Create opens path for writing and records the header as the first line.
func Create(path string, clock Clock, h Header) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return NewWriter(f, clock, h)
}

// NewWriter records to w, starting with the header line. Close closes w when it is an io.Closer.
func NewWriter(w io.Writer, clock Clock, h Header) (*Writer, error) {
	wc, ok := w.(io.WriteCloser)
	if !ok {
		wc = nopCloser{w}
	}
	if h.Version == 0 {
		h.Version = 1
	}
	hw := &Writer{f: wc, bw: bufio.NewWriterSize(wc, 64<<10), clock: clock, done: make(chan struct{})}
	hw.enc = json.NewEncoder(hw.bw)
	if err := hw.enc.Encode(Event{Ev: EvHeader, Header: &h}); err != nil {
		return nil, err
	}
	if err := hw.bw.Flush(); err != nil {
		return nil, err
	}
	go hw.flusher()
	return hw, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (w *Writer) flusher() {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			w.mu.Lock()
			if !w.closed && w.err == nil {
				w.err = w.bw.Flush()
			}
			w.mu.Unlock()
		}
	}
}

// Clock returns the run's clock, whose Now stamps every event.
func (w *Writer) Clock() Clock { return w.clock }

// NewID returns a fresh operation id, used to pair an invocation with its completion.
func (w *Writer) NewID() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextID++
	return w.nextID
}

// Record writes e, stamping it with the clock's current time when e.T is zero.
func (w *Writer) Record(e Event) {
	if e.T == 0 {
		e.T = w.clock.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return
	}
	w.err = w.enc.Encode(e)
	w.count++
}

// Count is the number of events recorded so far (the header excluded).
func (w *Writer) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// Err reports the first error met while writing, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes what is buffered and closes the file. Events recorded after Close are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.closed = true
	close(w.done)
	err := w.bw.Flush()
	if w.err == nil {
		w.err = err
	}
	cerr := w.f.Close()
	if w.err == nil {
		w.err = cerr
	}
	w.mu.Unlock()
	return w.err
}

// Clock is the run's single monotonic time base: nanoseconds since the run started. Copies share their zero, so
// that Restart moves it for the history, the node record and the resource alike.
type Clock struct{ base *atomic.Pointer[time.Time] }

// NewClock starts a clock at the current instant.
func NewClock() Clock {
	c := Clock{base: new(atomic.Pointer[time.Time])}
	now := time.Now()
	c.base.Store(&now)
	return c
}

// Restart moves the clock's zero to the current instant. A run's set-up (attaching the node record, warming every
// worker's connections) happens on the clock, before any event is recorded; the run restarts it as its workload
// and its fault schedule start, so that a fault's `at` counts from the workload's start however long the set-up
// took.
func (c Clock) Restart() {
	now := time.Now()
	c.base.Store(&now)
}

// Now is the time since the run's start, in nanoseconds, read from Go's monotonic clock.
func (c Clock) Now() int64 { return int64(time.Since(*c.base.Load())) }

// At converts a wall-clock instant (carrying a monotonic reading) to run time.
func (c Clock) At(t time.Time) int64 { return int64(t.Sub(*c.base.Load())) }

// Time converts run time back to an instant.
func (c Clock) Time(ns int64) time.Time { return c.base.Load().Add(time.Duration(ns)) }
