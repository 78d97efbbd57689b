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

// Link is one proxy: the path from one client group to one node.
type Link struct {
	// Name is "g1->n3".
	Name  string
	Group string
	Node  string
	proxy *toxiproxy.Proxy
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
	var err error
	for range 5 {
		var port int
		if port, err = FreePort(); err != nil {
			break
		}
		p = toxiproxy.NewProxy(n.srv, name, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), upstream)
		if err = n.srv.Collection.Add(p, true); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	l := &Link{Name: name, Group: group, Node: node, proxy: p}
	n.mu.Lock()
	n.links[name] = l
	n.mu.Unlock()
	return l, nil
}

// Addr is where clients of the link's group connect to reach its node.
func (l *Link) Addr() string { return l.proxy.Listen }

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

// Toxic is one Toxiproxy toxic to put on a link. Attributes are the toxic's own (latency, jitter, timeout, …).
type Toxic struct {
	Name       string
	Type       string
	Stream     Stream
	Attributes map[string]any
}

// AddToxic puts a toxic on the link; it applies to open connections and new ones alike.
func (l *Link) AddToxic(t Toxic) error {
	body, err := json.Marshal(map[string]any{
		"name": t.Name, "type": t.Type, "stream": string(t.Stream), "toxicity": 1.0, "attributes": t.Attributes,
	})
	if err != nil {
		return err
	}
	if _, err := l.proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("%s: add %s toxic %s: %w", l.Name, t.Type, t.Name, err)
	}
	return nil
}

// RemoveToxic takes a toxic off the link. Removing a timeout toxic closes the connections it held, as a healed
// network would let a stuck TCP connection fail and be redialled.
func (l *Link) RemoveToxic(ctx context.Context, name string) error {
	return l.proxy.Toxics.RemoveToxic(ctx, name)
}

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

// Clean removes every toxic from every link: the network is whole again.
func (n *Net) Clean(ctx context.Context) {
	for _, l := range n.Links() {
		l.proxy.Toxics.ResetToxics(ctx)
	}
}

// Close removes every toxic, stops every proxy and the API server.
func (n *Net) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Clean(ctx)
	var errs []error
	if err := n.srv.Collection.Clear(); err != nil {
		errs = append(errs, err)
	}
	if n.api != nil {
		errs = append(errs, n.api.Shutdown(ctx))
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
