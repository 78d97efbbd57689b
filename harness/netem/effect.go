package netem

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Cut says what a cut link does to the bytes that try to cross it.
type Cut int

const (
	// NoCut lets bytes through (after any latency).
	NoCut Cut = iota
	// Hold keeps every byte sent while the cut is in force and delivers them, in order, when it heals, as TCP
	// retransmissions do once a real partition heals: a command a client sent into the cut, and gave up on,
	// still reaches the server afterwards and is applied there. A connection the client closed meanwhile is
	// closed after its held bytes are delivered, as its kernel would have sent the FIN after them. It holds
	// only the connections that were open when it began: one opened while it lasts is a blackhole (Drop),
	// since across a real partition its handshake cannot complete and a client whose connect times out never
	// sends what it meant to. Behind the proxy that connect succeeds at once, and without this a command
	// written on a connection dialled into the cut would reach the node after the heal.
	Hold
	// Drop loses every byte sent while the cut is in force, as a blackhole that never lets a retransmission
	// through would. A connection that lost bytes is corrupt (half a command, a reply missing), so it is closed
	// when the cut heals, and its client redials.
	Drop
	// Reset closes every connection on which a byte arrives while the cut is in force: the client sees its
	// connection fail at once, as a peer answering with RST makes it.
	Reset
)

// String names the cut as scenarios write it.
func (c Cut) String() string {
	switch c {
	case Hold:
		return "hold"
	case Drop:
		return "drop"
	case Reset:
		return "reset"
	}
	return "none"
}

// Effect is what a fault does to one direction of a link: added latency (Latency ± Jitter per chunk of bytes,
// order kept), a cut, or both. Effects in force together on one direction add up: their latencies add, and the
// strongest cut wins (Reset over Drop over Hold).
type Effect struct {
	Latency, Jitter time.Duration
	Cut             Cut
	// GiveUp, with a Hold or Drop cut, closes every connection of the link once the cut has been in force that
	// long, and any connection made after that while it lasts: what a server does when its TCP keepalive probes or
	// its tcp_user_timeout go unanswered across a real partition. Behind a proxy the server never sees that
	// silence (the proxy's kernel answers its probes), so the link gives up in its place. The server then ends
	// the client's session (PostgreSQL releases its session locks); the client's side is closed too, and the
	// client learns it at its next use of the connection, sooner than across a real partition, where it would wait
	// for its own timeout. Zero: the server never gives up.
	GiveUp time.Duration
	// Established, when set, confines the effect to the connections open when it was put in force: a connection
	// made while it lasts passes untouched. A gray failure strikes that way: an ECMP path (or a NAT or firewall
	// entry) goes dark for the flows hashed onto it, while a client's new connection, from a new source port, takes
	// another path. A client whose command stalls on an old connection and gives up on it carries on through a new
	// one, and the stalled command, held, lands after the heal (at its retransmission, with an RTO) behind what the
	// client did since.
	Established bool
	// RTO, with a Hold cut, delivers the held bytes of a connection at its sender's next retransmission after the
	// heal rather than at the heal itself: TCP retransmits an unacknowledged segment RTO after sending it, then
	// after twice that wait, and so on (Linux: 200 ms at least, doubling up to two minutes), so after a cut of
	// seconds the first retransmission to get through comes up to as long again after the heal, while a
	// connection opened after the heal passes at once. A command a client gave up on then lands behind what the
	// client did since the heal through a new connection. Zero: held bytes are delivered at the heal.
	RTO time.Duration
}

// MaxRTO is the longest wait between two retransmissions (Linux's TCP_RTO_MAX).
const MaxRTO = 120 * time.Second

// nextRetransmission returns the first retransmission at or after now of a segment first sent at sent, with a
// first timeout of rto doubling at each try (up to MaxRTO).
func nextRetransmission(sent, now time.Time, rto time.Duration) time.Time {
	if rto <= 0 || sent.IsZero() || now.Sub(sent) > time.Hour {
		return now // no timeout, or no time sent to count from: at once
	}
	wait, at := rto, sent.Add(rto)
	for at.Before(now) {
		wait = min(2*wait, MaxRTO)
		at = at.Add(wait)
	}
	return at
}

// SendBound is how long bytes that are due may wait for the far side of a link to take them before the
// connection is judged dead and closed. The far side is the proxy's own writer to a loopback socket: it only
// stops taking bytes once the connection it writes to has failed, and a toxic that waited for it for ever is
// the Toxiproxy deadlock (issues #427, #558) that froze heals. Bytes are never dropped on a live connection.
const SendBound = 5 * time.Second

// control holds the effects in force on one direction of one link. The link's toxic, one per connection, reads
// it: faults never add or remove toxics while connections run, they change the control, so a heal is a change
// of state that cannot block.
type control struct {
	mu      sync.Mutex
	effects map[uint64]applied
	next    uint64
	changed chan struct{} // closed at every change, then replaced
	closed  bool
	rng     *rand.Rand
	id      string // its key in controls
}

// applied is an effect and when it was put in force.
type applied struct {
	Effect
	at time.Time
}

func newControl(seed uint64) *control {
	return &control{effects: map[uint64]applied{}, changed: make(chan struct{}), rng: rand.New(rand.NewPCG(seed, 0x6e6574656d))}
}

// state is a control's effects folded into one, for a connection opened at born, with the channel that signals
// the next change.
type state struct {
	latency, jitter time.Duration
	cut             Cut
	closed          bool
	changed         <-chan struct{}
	// rto is the largest RTO of the Hold cuts in force: how held bytes are delivered once they heal.
	rto time.Duration
	// giveUpAt is when the earliest cut with a GiveUp closes the link's connections; zero when none does.
	giveUpAt time.Time
}

func (c *control) state(born time.Time) state {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := state{closed: c.closed, changed: c.changed}
	for _, e := range c.effects {
		if e.Established && !born.Before(e.at) {
			continue // a connection made since: the effect strikes only those it found open
		}
		s.latency += e.Latency
		s.jitter += e.Jitter
		cut := e.Cut
		if cut == Hold && !born.Before(e.at) {
			// A connection opened into a holding cut never finished its handshake: nothing it carries is
			// retransmitted later, since nothing was ever sent; it is a blackhole, reset at the heal.
			cut = Drop
		}
		s.cut = max(s.cut, cut)
		if cut == Hold {
			s.rto = max(s.rto, e.RTO)
		}
		if e.GiveUp > 0 && (e.Cut == Hold || e.Cut == Drop) {
			if at := e.at.Add(e.GiveUp); s.giveUpAt.IsZero() || at.Before(s.giveUpAt) {
				s.giveUpAt = at
			}
		}
	}
	return s
}

// delay draws one chunk's latency.
func (c *control) delay(s state) time.Duration {
	d := s.latency
	if s.jitter > 0 {
		c.mu.Lock()
		d += time.Duration(c.rng.Int64N(2*int64(s.jitter))) - s.jitter
		c.mu.Unlock()
	}
	return max(d, 0)
}

// signal wakes every connection reading the control. c.mu must be held.
func (c *control) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// add puts an effect in force and returns the function that takes it off again (safe to call more than once).
func (c *control) add(e Effect) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	c.effects[id] = applied{Effect: e, at: time.Now()}
	c.signal()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if _, ok := c.effects[id]; ok {
				delete(c.effects, id)
				c.signal()
			}
		})
	}
}

// close ends every connection reading the control and forgets it: the link is being torn down.
func (c *control) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.signal()
		controls.Delete(c.id)
	}
}

// inForce reports how many effects are in force.
func (c *control) inForce() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.effects)
}

// The controls of every link of this process, by the id the link's toxics carry in their attributes.
var (
	controls  sync.Map // string → *control
	controlID atomic.Uint64
)

func registerControl(c *control) string {
	c.id = "c" + strconv.FormatUint(controlID.Add(1), 10)
	controls.Store(c.id, c)
	return c.id
}

func lookupControl(id string) *control {
	if c, ok := controls.Load(id); ok {
		return c.(*control)
	}
	return nil
}
