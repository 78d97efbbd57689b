package netem

import (
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// ToxicType is the Toxiproxy toxic type every link carries in each direction, from its creation to its end. It is
// registered with Toxiproxy's toxic registry like any built-in toxic (CREATING_TOXICS.md), so the proxies and
// their HTTP API show it; what it does at any moment is the link's control (Link.Apply), not Toxiproxy's chain.
//
// Why one permanent toxic instead of Toxiproxy's latency and timeout toxics added and removed per fault: removing
// a toxic interrupts every connection's pipeline while holding the proxy's lock, and the built-in toxics forward
// bytes with a send that nothing can interrupt. When a connection's far side has died (a client that gave up, a
// run being stopped), that send blocks for ever, the removal waits for it for ever, and every later call on the
// proxy waits for the lock: upstream issues #427 and #558 (PR #760 open). Runs froze that way on Ctrl-C and could
// freeze mid-run at any heal. This toxic is never removed while connections run, every send it makes can give
// up (SendBound), and a heal is a change of state it reads.
const ToxicType = "redlock-netem"

// netemToxic is the toxic of one direction of a link; Control names the link's control.
type netemToxic struct {
	Control string `json:"control"`
}

// GetBufferSize lets the previous stage of the pipeline hand chunks over without waiting for each one.
func (t *netemToxic) GetBufferSize() int { return 1024 }

func init() { toxics.Register(ToxicType, new(netemToxic)) }

// queued is a chunk waiting for its due time; a nil chunk is the end of the stream, delivered in order too.
type queued struct {
	chunk *stream.StreamChunk
	due   time.Time
	sent  time.Time // when the toxic took it: when its sender first sent it
}

// Pipe forwards one connection's bytes in one direction as the control says, until the stream ends, the link
// is torn down, or Toxiproxy interrupts it (a person editing the proxy through the API).
func (t *netemToxic) Pipe(stub *toxics.ToxicStub) {
	c := lookupControl(t.Control)
	if c == nil {
		c = newControl(0) // a toxic added by hand through the API, with no control: it passes bytes through
	}
	p := pipe{stub: stub, c: c, in: stub.Input, born: time.Now()}
	p.run()
}

// pipe is one connection's bytes in one direction through the toxic: the chunks queued until their due time, and
// what the control's cuts have done to the connection so far.
type pipe struct {
	stub *toxics.ToxicStub
	c    *control
	in   <-chan *stream.StreamChunk // nil once the stream has ended
	// born is when the connection was opened (its pipe started): effects confined to established connections
	// (Effect.Established) strike it only if they came after.
	born    time.Time
	queue   []queued
	lastDue time.Time
	// tainted says a Drop cut lost bytes of this connection: it is closed once no Drop is in force.
	tainted bool
	// timer wakes a turn at the head chunk's due time or at the end of its SendBound; it is stopped between turns.
	timer *time.Timer
	// stuckSince is when the head chunk, due, started waiting for the next stage to take it (zero: not waiting).
	stuckSince time.Time
	// giveUp wakes a turn when a cut's GiveUp closes the connection; it is stopped between turns.
	giveUp *time.Timer
	// heldRTO is the RTO of the Hold cut that last held this connection's bytes (Effect.RTO): when it heals, they
	// are due at their sender's next retransmission. Zero: nothing held, or held bytes go at the heal.
	heldRTO time.Duration
}

// turn is what one turn of the loop waits on besides the input, the interrupt and a change of state: the head
// chunk to hand over on out (a nil out sends nothing) and the timer's channel when the head has a deadline.
type turn struct {
	out    chan<- *stream.StreamChunk
	head   *stream.StreamChunk
	wake   <-chan time.Time
	giveUp <-chan time.Time
}

// outcome says how the loop goes on after planning a turn.
type outcome int

const (
	waitEvent outcome = iota // wait for the turn's events
	planAgain                // the head was dropped: plan again with the next chunk
	ended                    // the pipe has ended (killed or closed)
)

// run is the pipe's loop: each turn reads the control's state, works out what the head of the queue may do now
// (plan), waits for the first event (await), and stops the timer for the next turn.
func (p *pipe) run() {
	p.timer = time.NewTimer(time.Hour)
	p.timer.Stop()
	defer p.timer.Stop()
	p.giveUp = time.NewTimer(time.Hour)
	p.giveUp.Stop()
	defer p.giveUp.Stop()
	for {
		st := p.c.state(p.born)
		if st.closed || (p.tainted && st.cut != Drop) || p.givenUp(st) {
			p.kill()
			return
		}
		p.retransmit(st)
		t, o := p.plan(st)
		if !st.giveUpAt.IsZero() {
			p.giveUp.Reset(time.Until(st.giveUpAt))
			t.giveUp = p.giveUp.C
		}
		switch o {
		case ended:
			return
		case planAgain:
			continue
		}
		if !p.await(st, t) {
			return
		}
		p.disarm()
	}
}

// retransmit follows a Hold cut with an RTO: while it holds bytes of this connection it notes the RTO, and once
// it has healed it moves what it held to the sender's next retransmission of the oldest held byte (the rest
// follow it, in order, as TCP sends them once that one is acknowledged).
func (p *pipe) retransmit(st state) {
	switch {
	case st.cut == Hold:
		if len(p.queue) > 0 {
			p.heldRTO = st.rto
		}
	case p.heldRTO > 0 && len(p.queue) > 0:
		at := nextRetransmission(p.queue[0].sent, time.Now(), p.heldRTO)
		for i := range p.queue {
			p.queue[i].due = maxTime(p.queue[i].due, at)
		}
		p.lastDue = maxTime(p.lastDue, at)
		p.heldRTO = 0
	default:
		p.heldRTO = 0
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// givenUp says a cut's GiveUp has come: the server side has given up on the connection.
func (p *pipe) givenUp(st state) bool {
	return !st.giveUpAt.IsZero() && !time.Now().Before(st.giveUpAt)
}

// plan decides what the head of the queue does this turn under state st: wait for its due time, end the
// connection (a Reset with bytes in flight, or the end of the stream reached), be dropped, or be offered to the
// next stage for what is left of its SendBound. A Hold or an empty queue offers nothing.
func (p *pipe) plan(st state) (turn, outcome) {
	now := time.Now()
	var t turn
	if len(p.queue) > 0 && st.cut != Hold {
		q := p.queue[0]
		switch {
		case q.due.After(now):
			p.timer.Reset(q.due.Sub(now))
			t.wake = p.timer.C
		case st.cut == Reset: // a connection with bytes in flight is reset
			p.kill()
			return t, ended
		case q.chunk == nil && st.cut == Drop:
			// The FIN is lost in the blackhole like any segment, and retransmitted once it heals: the far side
			// sees the connection end only then (or the connection is closed at the heal, having lost bytes).
		case q.chunk == nil: // the end of the stream, after everything before it
			p.stub.Close()
			return t, ended
		case st.cut == Drop:
			p.queue = p.queue[1:]
			p.tainted = true
			return t, planAgain
		default:
			t.out, t.head = p.stub.Output, q.chunk
			if p.stuckSince.IsZero() {
				p.stuckSince = now
			}
			p.timer.Reset(max(SendBound-now.Sub(p.stuckSince), 0))
			t.wake = p.timer.C
		}
	}
	if t.out == nil {
		p.stuckSince = time.Time{}
	}
	return t, waitEvent
}

// await waits for the first of: Toxiproxy's interrupt, a chunk from the previous stage, the next stage taking
// the head, the timer, or a change of the control's state; it reports false once the pipe has ended.
func (p *pipe) await(st state, t turn) bool {
	select {
	case <-p.stub.Interrupt:
		p.flush()
		return false
	case chunk, ok := <-p.in:
		return p.take(st, chunk, ok)
	case t.out <- t.head:
		p.queue = p.queue[1:]
		p.stuckSince = time.Time{}
	case <-t.wake:
		if t.out != nil && time.Since(p.stuckSince) >= SendBound {
			p.kill() // the far side has stopped taking bytes: its connection is gone
			return false
		}
	case <-st.changed:
	case <-t.giveUp: // the next turn closes the connection
	}
	return true
}

// take queues a chunk from the previous stage under state st, due after the link's delay and never before the
// chunk ahead of it; the end of the stream is queued as a nil chunk. A Reset ends the pipe (reported false), a
// Drop loses the chunk and taints the connection.
func (p *pipe) take(st state, chunk *stream.StreamChunk, ok bool) bool {
	if !ok || chunk == nil {
		p.in = nil
		p.queue = append(p.queue, queued{due: p.lastDue, sent: time.Now()})
		return true
	}
	switch st.cut {
	case Reset:
		p.kill()
		return false
	case Drop:
		p.tainted = true
	default:
		due := chunk.Timestamp.Add(p.c.delay(st))
		if due.Before(p.lastDue) {
			due = p.lastDue // order is kept, as on one TCP connection
		}
		p.lastDue = due
		p.queue = append(p.queue, queued{chunk: chunk, due: due, sent: time.Now()})
	}
	return true
}

// disarm stops the timer and drains a tick it may already have sent, so the next turn starts with a quiet timer.
func (p *pipe) disarm() {
	for _, t := range []*time.Timer{p.timer, p.giveUp} {
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	}
}

// kill closes the connection in this direction (the proxy then closes both of its sockets) and swallows whatever
// still arrives, so that nothing before it in the pipeline ever waits on it.
func (p *pipe) kill() {
	p.stub.Close()
	if p.in != nil {
		for range p.in {
		}
	}
}

// flush hands what is queued to the next stage when Toxiproxy interrupts the toxic, each chunk for at most
// SendBound, so that an edit through the API loses no byte of a live connection.
func (p *pipe) flush() {
	for _, q := range p.queue {
		if q.chunk == nil {
			return
		}
		if p.stub.WriteOutput(q.chunk, SendBound) != nil {
			return
		}
	}
}
