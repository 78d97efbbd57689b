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
}

// Pipe forwards one connection's bytes in one direction as the control says, until the stream ends, the link
// is torn down, or Toxiproxy interrupts it (a person editing the proxy through the API).
func (t *netemToxic) Pipe(stub *toxics.ToxicStub) {
	c := lookupControl(t.Control)
	if c == nil {
		c = newControl(0) // a toxic added by hand through the API, with no control: it passes bytes through
	}
	p := pipe{stub: stub, c: c, in: stub.Input}
	p.run()
}

type pipe struct {
	stub    *toxics.ToxicStub
	c       *control
	in      <-chan *stream.StreamChunk // nil once the stream has ended
	queue   []queued
	lastDue time.Time
	// tainted says a Drop cut lost bytes of this connection: it is closed once no Drop is in force.
	tainted bool
}

func (p *pipe) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var stuckSince time.Time
	for {
		st := p.c.state()
		if st.closed || (p.tainted && st.cut != Drop) {
			p.kill()
			return
		}
		now := time.Now()
		var out chan<- *stream.StreamChunk
		var head *stream.StreamChunk
		var wake <-chan time.Time
		if len(p.queue) > 0 && st.cut != Hold {
			q := p.queue[0]
			switch {
			case q.due.After(now):
				timer.Reset(q.due.Sub(now))
				wake = timer.C
			case st.cut == Reset: // a connection with bytes in flight is reset
				p.kill()
				return
			case q.chunk == nil: // the end of the stream, after everything before it
				p.stub.Close()
				return
			case st.cut == Drop:
				p.queue = p.queue[1:]
				p.tainted = true
				continue
			default:
				out, head = p.stub.Output, q.chunk
				if stuckSince.IsZero() {
					stuckSince = now
				}
				timer.Reset(max(SendBound-now.Sub(stuckSince), 0))
				wake = timer.C
			}
		}
		if out == nil {
			stuckSince = time.Time{}
		}
		select {
		case <-p.stub.Interrupt:
			p.flush()
			return
		case chunk, ok := <-p.in:
			if !ok || chunk == nil {
				p.in = nil
				p.queue = append(p.queue, queued{due: p.lastDue})
				break
			}
			switch st.cut {
			case Reset:
				p.kill()
				return
			case Drop:
				p.tainted = true
			default:
				due := chunk.Timestamp.Add(p.c.delay(st))
				if due.Before(p.lastDue) {
					due = p.lastDue // order is kept, as on one TCP connection
				}
				p.lastDue = due
				p.queue = append(p.queue, queued{chunk: chunk, due: due})
			}
		case out <- head:
			p.queue = p.queue[1:]
			stuckSince = time.Time{}
		case <-wake:
			if out != nil && time.Since(stuckSince) >= SendBound {
				p.kill() // the far side has stopped taking bytes: its connection is gone
				return
			}
		case <-st.changed:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
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
