// Package netem puts an embedded Toxiproxy between every client group and every Redis node, so that network
// faults (latency, partitions, lost replies) hit real TCP connections the way they would on a real network, and
// one group can be cut from a node while another still reaches it.
package netem

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Net is the embedded Toxiproxy server and its links.
type Net struct {
	srv   *toxiproxy.ApiServer
	mu    sync.Mutex
	links map[string]*Link
	api   *http.Server
	// fronts are the stable addresses of nodes that may move (AddFront), by node name.
	fronts map[string]*Front
}

// Link is one proxy: the path from one client group to one node. Each direction carries one toxic of ours
// (ToxicType) for its whole life; Apply changes what it does.
type Link struct {
	// Name is "g1->n3".
	Name  string
	Group string
	Node  string
	proxy *toxiproxy.Proxy
	ctl   map[Stream]*control
}

// LinkName names the link from a client group to a node.
func LinkName(group, node string) string { return group + "->" + node }

// New starts an embedded Toxiproxy. When apiAddr is not empty its HTTP API is served there, so that a person can
// watch or poke a live run with toxiproxy-cli.
func New(apiAddr string) (*Net, error) {
	n := &Net{
		srv:   toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		links: map[string]*Link{},
	}
	if apiAddr != "" {
		ln, err := net.Listen("tcp", apiAddr)
		if err != nil {
			return nil, fmt.Errorf("toxiproxy API on %s: %w", apiAddr, err)
		}
		n.api = &http.Server{Handler: n.srv.Routes(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = n.api.Serve(ln) }()
	}
	return n, nil
}

// AddLink creates and starts the proxy from group to node, listening on a free loopback port.
func (n *Net) AddLink(group, node, upstream string) (*Link, error) {
	name := LinkName(group, node)
	// The listening port comes from FreePort, outside the ephemeral range, because SetUpstream and
	// ResetConnections give it up and take it again during the run.
	var p *toxiproxy.Proxy
	var ctl map[Stream]*control
	var err error
	for range 5 {
		var port int
		if port, err = FreePort(); err != nil {
			break
		}
		p = toxiproxy.NewProxy(n.srv, name, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), upstream)
		if ctl, err = installControls(p, name); err != nil {
			break
		}
		if err = n.srv.Collection.Add(p, true); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	l := &Link{Name: name, Group: group, Node: node, proxy: p, ctl: ctl}
	n.mu.Lock()
	n.links[name] = l
	n.mu.Unlock()
	return l, nil
}

// Addr is where clients of the link's group connect to reach its node.
func (l *Link) Addr() string { return l.proxy.Listen }

// Upstream is the address the link forwards to.
func (l *Link) Upstream() string {
	l.proxy.Lock()
	defer l.proxy.Unlock()
	return l.proxy.Upstream
}

// Link returns the link from group to node, or nil.
func (n *Net) Link(group, node string) *Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[LinkName(group, node)]
}

// Links returns every link, sorted by name.
func (n *Net) Links() []*Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Link, 0, len(n.links))
	for _, l := range n.links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LinksTo returns every link to node.
func (n *Net) LinksTo(node string) []*Link {
	var out []*Link
	for _, l := range n.Links() {
		if l.Node == node {
			out = append(out, l)
		}
	}
	return out
}

// Stream is a direction on a link: upstream carries commands to the node, downstream carries its replies.
type Stream string

const (
	Upstream   Stream = "upstream"
	Downstream Stream = "downstream"
)

// installControls puts the link's own toxic on both directions of a proxy that has no connection yet, each
// reading a control of its own.
func installControls(p *toxiproxy.Proxy, name string) (map[Stream]*control, error) {
	ctl := map[Stream]*control{}
	for i, s := range []Stream{Upstream, Downstream} {
		c := newControl(uint64(len(name))<<8 | uint64(i))
		id := registerControl(c)
		body, err := json.Marshal(map[string]any{
			"name": "netem-" + string(s), "type": ToxicType, "stream": string(s), "toxicity": 1.0,
			"attributes": map[string]any{"control": id},
		})
		if err != nil {
			return nil, err
		}
		if _, err := p.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
			return nil, fmt.Errorf("%s: add %s toxic: %w", name, ToxicType, err)
		}
		ctl[s] = c
	}
	return ctl, nil
}

// Apply puts an effect in force on the given directions of the link (both when none is named), on the
// connections open now and on new ones alike, and returns the heal that takes it off. Healing cannot block: it
// changes what the link's toxics do, and they act on it at once (a Hold delivers what it kept, a Drop closes the
// connections that lost bytes). The heal is safe to call more than once.
func (l *Link) Apply(e Effect, streams ...Stream) (heal func()) {
	if len(streams) == 0 {
		streams = []Stream{Upstream, Downstream}
	}
	var heals []func()
	for _, s := range streams {
		heals = append(heals, l.ctl[s].add(e))
	}
	return func() {
		for _, h := range heals {
			h()
		}
	}
}

// InForce is the number of effects in force on a direction of the link.
func (l *Link) InForce(s Stream) int { return l.ctl[s].inForce() }

// SetUpstream points the link at a new address (a node restarted on another port), closing its connections.
// Toxiproxy does this by giving up the listening port and taking it again, which fails while one of the old
// connections lingers in FIN-WAIT on the port; it is tried again for up to two seconds. Nodes that move during
// a run sit behind a Front instead (Net.AddFront), so that their links never need this.
func (l *Link) SetUpstream(addr string) error {
	l.proxy.Stop()
	l.proxy.Lock()
	l.proxy.Upstream = addr
	l.proxy.Unlock()
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; {
		if err = l.proxy.Start(); err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AddFront puts a Front before node's address and returns the front's address, which the node's links should
// forward to. Repoint then moves the node without touching its links.
func (n *Net) AddFront(node, addr string) (string, error) {
	f, err := NewFront(addr)
	if err != nil {
		return "", fmt.Errorf("front for %s: %w", node, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fronts == nil {
		n.fronts = map[string]*Front{}
	}
	if old := n.fronts[node]; old != nil {
		_ = old.Close()
	}
	n.fronts[node] = f
	return f.Addr(), nil
}

// Repoint sends the traffic of every group to node at addr from now on: through the node's front when it has
// one, else by repointing each of its links.
func (n *Net) Repoint(node, addr string) error {
	n.mu.Lock()
	f := n.fronts[node]
	n.mu.Unlock()
	if f != nil {
		f.SetTarget(addr)
		return nil
	}
	var errs []error
	for _, l := range n.LinksTo(node) {
		if err := l.SetUpstream(addr); err != nil {
			errs = append(errs, fmt.Errorf("repoint %s: %w", l.Name, err))
		}
	}
	return errors.Join(errs...)
}

// StopBound bounds how long Close waits for the proxies to stop. Stopping a proxy waits for its accept loop,
// which nothing of ours can block any more; the bound is a backstop against a Toxiproxy bug, so that a run always
// ends: past it, Close returns an error and leaves the proxies' goroutines behind.
const StopBound = 10 * time.Second

// Close ends every connection through the links, stops every proxy and the API server.
func (n *Net) Close() error {
	for _, l := range n.Links() {
		for _, c := range l.ctl {
			c.close()
		}
	}
	var errs []error
	done := make(chan error, 1)
	go func() { done <- n.srv.Collection.Clear() }()
	select {
	case err := <-done:
		errs = append(errs, err)
	case <-time.After(StopBound):
		errs = append(errs, fmt.Errorf("toxiproxy: proxies did not stop within %s", StopBound))
	}
	if n.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, n.api.Shutdown(ctx))
		cancel()
	}
	n.mu.Lock()
	fronts := n.fronts
	n.fronts = nil
	n.mu.Unlock()
	for _, f := range fronts {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
