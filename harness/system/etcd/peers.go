package etcd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redlock-harness/redlock-harness/harness/netem"
)

// peerNet carries the members' traffic to one another, so that a member can be cut from its peers while its
// clients still reach it. Each member advertises as its peer URL the address of a front of ours, which every other
// member dials to reach it. A front reads the first request of each connection to learn which member dialled it
// (rafthttp names the sender in the X-Server-From header of its stream and pipeline requests) and passes the
// connection on through the Toxiproxy link from that member to this one: one link per ordered pair of members,
// so that a cut can isolate one member in both directions. One proxy per member could not: it would cut only the
// connections dialled to that member, and rafthttp carries a member's messages to a peer on connections dialled
// either way (a stream the peer opened to it, a pipeline request it posts to the peer), so the member would go on
// talking through the others' proxies. A connection whose sender the front cannot tell (rafthttp's prober and
// version checks name none) goes through the link peer->nI, cut when member I is.
type peerNet struct {
	net    *netem.Net
	names  []string
	ids    []string
	fronts []*peerFront

	mu    sync.Mutex
	heals map[int][]func()
}

// unknownSender is the link group of connections whose sender a front cannot tell.
const unknownSender = "peer"

// peerHeadTimeout bounds how long a front waits for a connection's first request head.
const peerHeadTimeout = 10 * time.Second

// newPeerNet puts a front on each listener (lns[i] is member i's advertised peer address); ids[i] is member i's
// ID as rafthttp writes it (hex). The fronts hang up on every connection until connect has made the links.
func newPeerNet(names, ids []string, lns []net.Listener) (*peerNet, error) {
	nw, err := netem.New("")
	if err != nil {
		return nil, err
	}
	p := &peerNet{net: nw, names: names, ids: ids, heals: map[int][]func(){}}
	for _, ln := range lns {
		f := &peerFront{ln: ln, ready: make(chan struct{}), open: map[net.Conn]struct{}{}}
		p.fronts = append(p.fronts, f)
		go f.serve()
	}
	return p, nil
}

// connect makes the links from every member to every other, each forwarding to the member's own peer listener
// (upstream[i]), and lets the fronts pass their connections on. It is called once every member listens, so that
// no link's port, drawn from the same range as the members', is one a member was about to take.
func (p *peerNet) connect(upstream []string) error {
	for d, f := range p.fronts {
		links := map[string]*netem.Link{}
		for s := range p.names {
			group, id := p.names[s], p.ids[s]
			if s == d {
				group, id = unknownSender, ""
			}
			l, err := p.net.AddLink(group, p.names[d], upstream[d])
			if err != nil {
				return err
			}
			links[id] = l
		}
		f.links = links
		close(f.ready)
	}
	return nil
}

// cut blackholes every link from and to member i (bytes vanish, connections stay open until the heal closes them),
// on top of whatever other cuts are in force.
func (p *peerNet) cut(i int) error {
	if i < 0 || i >= len(p.names) {
		return fmt.Errorf("no member %d", i)
	}
	name := p.names[i]
	var heals []func()
	for _, l := range p.net.Links() {
		if l.Group == name || l.Node == name {
			heals = append(heals, l.Apply(netem.Effect{Cut: netem.Drop}))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heals[i] = append(p.heals[i], heals...)
	return nil
}

// heal lifts every cut of member i.
func (p *peerNet) heal(i int) {
	p.mu.Lock()
	heals := p.heals[i]
	delete(p.heals, i)
	p.mu.Unlock()
	for _, h := range heals {
		h()
	}
}

// identified and unknown count the connections the fronts passed on, by whether they could tell the sender.
func (p *peerNet) counts() (identified, unknown int64) {
	for _, f := range p.fronts {
		identified += f.identified.Load()
		unknown += f.unknown.Load()
	}
	return identified, unknown
}

// close stops the fronts, closes the connections through them and the links.
func (p *peerNet) close() error {
	for _, f := range p.fronts {
		f.close()
	}
	return p.net.Close()
}

// peerFront is the advertised peer address of one member.
type peerFront struct {
	ln    net.Listener
	ready chan struct{}          // closed once links is set
	links map[string]*netem.Link // by the sender's member ID; "" for an unknown sender

	identified, unknown atomic.Int64

	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
}

func (f *peerFront) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

// handle reads the connection's first request head, then splices it to the sender's link.
func (f *peerFront) handle(c net.Conn) {
	if !f.track(c) {
		return
	}
	defer f.untrack(c)
	if !f.linked() {
		return
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(peerHeadTimeout))
	head, from, err := readHead(br)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if isBootstrapCheck(from, head) {
		return
	}
	l, ok := f.links[from]
	if !ok {
		l = f.links[""]
		f.unknown.Add(1)
	} else {
		f.identified.Add(1)
	}
	up, err := net.DialTimeout("tcp", l.Addr(), 5*time.Second)
	if err != nil || !f.track(up) {
		return
	}
	defer f.untrack(up)
	done := make(chan struct{}, 2)
	go func() {
		if _, err := up.Write(head); err == nil {
			_, _ = io.Copy(up, br)
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, up)
		done <- struct{}{}
	}()
	<-done // either way ending ends both: an HTTP connection has no use for half of one
}

// linked says whether the links are there. Until they are, the front hangs up at once, as a member that is not
// yet listening would: a member that starts checks whether its peers already form a cluster (GET /members, one
// second's timeout for each), and a connection held until the links come would make each check wait for the
// peer's own start, seconds in all.
func (f *peerFront) linked() bool {
	select {
	case <-f.ready:
		return true
	default:
		return false
	}
}

// isBootstrapCheck says whether a request is the one a member that starts a new cluster first sends its peers, to
// ask whether they already form one (GET /members, naming no sender). A peer that is starting too does not answer
// until it has asked the same of the others, so with every member starting at once each check waits out its
// timeout, a second or more: the fronts hang up on that request, as a peer that is not yet listening would, and
// the member goes on at once. The answer could only matter to a member that lost its data and came back with
// --initial-cluster-state new, which no fault here makes; a member restarted with its data does not ask.
func isBootstrapCheck(from string, head []byte) bool {
	return from == "" && strings.HasPrefix(string(head), "GET /members ")
}

// readHead reads an HTTP request head, up to its blank line, and returns it with its X-Server-From value.
func readHead(br *bufio.Reader) ([]byte, string, error) {
	var head []byte
	from := ""
	for len(head) < 64<<10 {
		line, err := br.ReadString('\n')
		head = append(head, line...)
		if err != nil {
			return nil, "", err
		}
		if line == "\r\n" || line == "\n" {
			return head, from, nil
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "X-Server-From") {
			from = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return nil, "", errors.New("request head too long")
}

// track registers a connection for close, or closes it and says no when the front is closed.
func (f *peerFront) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		_ = c.Close()
		return false
	}
	f.open[c] = struct{}{}
	return true
}

func (f *peerFront) untrack(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.open, c)
	_ = c.Close()
}

func (f *peerFront) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	_ = f.ln.Close()
	for c := range f.open {
		_ = c.Close()
	}
}
