package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// External runs the locks against Redis servers the user already runs (a version, a persistence setting, a
// managed Redis in a staging network): the harness starts nothing, puts its Toxiproxy in front of each server as
// for its own nodes, so network faults work, and keeps every key under a prefix of the run's own, which it deletes
// at the end. It never touches a key outside that prefix: a server holding some is reported, not cleaned. Node
// faults (pause, crash-restart) need a command of the user's that does them (Hooks); without one, a scenario
// asking for them is refused before anything runs. A server off loopback needs AllowRemote: the harness sends it
// thousands of commands a second.
type External struct {
	// Addrs are the servers, host:port, n1 first.
	Addrs []string
	// Password authenticates every connection (AUTH), when set; Username with it for an ACL user.
	Username, Password string
	// TLS makes every client connection TLS (through the proxies, end to end), verifying the servers' name
	// unless Insecure.
	TLS, Insecure bool
	// AllowRemote permits servers that are not on loopback.
	AllowRemote bool
	// Hooks are commands that carry out node faults on the user's servers; {node} and {addr} in them are replaced
	// by the node's name (n2) and address.
	Hooks Hooks

	prefix string
}

// Hooks are shell commands that act on one of the user's servers.
type Hooks struct {
	// Pause freezes the node and Resume lets it go on (pause fault).
	Pause, Resume string
	// Kill stops it abruptly and Restart brings it back at the same address (crash-restart fault).
	Kill, Restart string
}

// NewExternal returns the backend for the user's servers, with the node faults its hooks can carry out.
func NewExternal(e External) (Backend, error) {
	if len(e.Addrs) == 0 {
		return nil, errors.New("external backend: give the servers with --nodes host:port,…")
	}
	for _, a := range e.Addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("external backend: %q is not host:port", a)
		}
		if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && !e.AllowRemote {
			return nil, fmt.Errorf("external backend: %s is not on loopback: pass --allow-remote to load a server elsewhere with the harness's traffic", a)
		}
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e.prefix = "rh-" + hex.EncodeToString(b) + ":"
	x := &e
	pause := e.Hooks.Pause != "" && e.Hooks.Resume != ""
	restart := e.Hooks.Kill != "" && e.Hooks.Restart != ""
	switch {
	case pause && restart:
		return &externalBoth{externalPauser{x}, externalRestarter{x}}, nil
	case pause:
		return externalPauser{x}, nil
	case restart:
		return externalRestarter{x}, nil
	}
	return x, nil
}

// Name implements Backend.
func (e *External) Name() string { return "external" }

// KeyPrefix is the prefix of every key the run's locks use on the user's servers.
func (e *External) KeyPrefix() string { return e.prefix }

// ClientOptions are the credentials and TLS every client of the run uses.
func (e *External) ClientOptions() ClientOptions {
	o := ClientOptions{Username: e.Username, Password: e.Password}
	if e.TLS {
		host, _, _ := net.SplitHostPort(e.Addrs[0])
		o.TLS = &tls.Config{ServerName: host, InsecureSkipVerify: e.Insecure, MinVersion: tls.VersionTLS12} // #nosec G402 -- only when asked
	}
	return o
}

// Start implements Backend: every server must answer PING (with the credentials); a server that already holds
// keys is reported.
func (e *External) Start(ctx context.Context, spec Spec) ([]Node, error) {
	if spec.Nodes > len(e.Addrs) {
		return nil, fmt.Errorf("external backend: the scenario needs %d nodes, --nodes gives %d", spec.Nodes, len(e.Addrs))
	}
	if spec.Replicas || spec.FakeClock || spec.Persistence == "aof-always" {
		return nil, unsupported("external backend: the scenario needs replicas, a fake clock or a persistence setting of its own, which the harness cannot give servers it does not run")
	}
	var nodes []Node
	for i, a := range e.Addrs[:spec.Nodes] {
		c := e.client(a)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.Ping(cctx).Err()
		var n int64
		if err == nil {
			n, err = c.DBSize(cctx).Result()
		}
		cancel()
		_ = c.Close()
		if err != nil {
			return nil, fmt.Errorf("external backend: %s: %w", a, err)
		}
		if n > 0 {
			fmt.Fprintf(os.Stderr, "external backend: %s (n%d) holds %d keys that are not this run's: left untouched\n", a, i+1, n)
		}
		nodes = append(nodes, Node{Name: NodeName(i), Addr: a})
	}
	return nodes, nil
}

// Stop implements Backend: it deletes every key under the run's prefix (and their fencing counters), and nothing
// else.
func (e *External) Stop(ctx context.Context) error {
	var errs []error
	for _, a := range e.Addrs {
		c := e.client(a)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		for _, pattern := range []string{e.prefix + "*", "fence:" + e.prefix + "*"} {
			iter := c.Scan(cctx, 0, pattern, 500).Iterator()
			var keys []string
			for iter.Next(cctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", a, err))
			}
			for len(keys) > 0 {
				n := min(len(keys), 500)
				if err := c.Del(cctx, keys[:n]...).Err(); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", a, err))
				}
				keys = keys[n:]
			}
		}
		cancel()
		_ = c.Close()
	}
	return errors.Join(errs...)
}

func (e *External) client(addr string) *redis.Client {
	o := e.ClientOptions()
	return redis.NewClient(&redis.Options{Addr: addr, Username: o.Username, Password: o.Password, TLSConfig: o.TLS,
		MaxRetries: -1, DialTimeout: 2 * time.Second})
}

// hook runs one of the user's commands for node i.
func (e *External) hook(ctx context.Context, what, cmd string, i int) error {
	if i < 0 || i >= len(e.Addrs) {
		return fmt.Errorf("no node %d", i)
	}
	line := strings.NewReplacer("{node}", NodeName(i), "{addr}", e.Addrs[i]).Replace(cmd)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "sh", "-c", line).CombinedOutput() // #nosec G204 -- the user's own command
	if err != nil {
		return fmt.Errorf("%s hook %q: %v: %s", what, line, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Lacks implements Advisor: node faults come from the user's hooks.
func (e *External) Lacks(capability string) string {
	switch capability {
	case "pause":
		return "give a pause and a resume hook (--hook-pause, --hook-resume)"
	case "restart":
		return "give a kill and a restart hook (--hook-kill, --hook-restart)"
	}
	return ""
}

// externalPauser is an External whose hooks can pause and resume a server.
type externalPauser struct{ *External }

// Pause implements Pauser with the user's pause hook.
func (p externalPauser) Pause(ctx context.Context, i int) error {
	return p.hook(ctx, "pause", p.Hooks.Pause, i)
}

// Resume implements Pauser with the user's resume hook.
func (p externalPauser) Resume(ctx context.Context, i int) error {
	return p.hook(ctx, "resume", p.Hooks.Resume, i)
}

// externalRestarter is an External whose hooks can kill and restart a server.
type externalRestarter struct{ *External }

// Kill implements Restarter with the user's kill hook.
func (r externalRestarter) Kill(ctx context.Context, i int) error {
	return r.hook(ctx, "kill", r.Hooks.Kill, i)
}

// Restart implements Restarter with the user's restart hook; the server comes back at its address.
func (r externalRestarter) Restart(ctx context.Context, i int) (string, error) {
	if err := r.hook(ctx, "restart", r.Hooks.Restart, i); err != nil {
		return "", err
	}
	return r.Addrs[i], nil
}

// externalBoth has both kinds of hooks.
type externalBoth struct {
	externalPauser
	externalRestarter
}

// Name, Start, Stop, KeyPrefix and ClientOptions are the External's (both halves share it).
func (b *externalBoth) Name() string { return b.externalPauser.Name() }

// Start implements Backend.
func (b *externalBoth) Start(ctx context.Context, spec Spec) ([]Node, error) {
	return b.externalPauser.Start(ctx, spec)
}

// Stop implements Backend.
func (b *externalBoth) Stop(ctx context.Context) error { return b.externalPauser.Stop(ctx) }

// KeyPrefix is the External's.
func (b *externalBoth) KeyPrefix() string { return b.externalPauser.KeyPrefix() }

// ClientOptions are the External's.
func (b *externalBoth) ClientOptions() ClientOptions { return b.externalPauser.ClientOptions() }

// ClientOptions are what every client of a run needs to talk to its servers (credentials, TLS). A backend with
// servers of its own needs none.
type ClientOptions struct {
	Username, Password string
	TLS                *tls.Config
}

// KeyPrefixer is a backend whose servers the run shares with others: every key the run uses goes under the prefix.
type KeyPrefixer interface{ KeyPrefix() string }

// ClientOptioner is a backend whose servers need credentials or TLS.
type ClientOptioner interface{ ClientOptions() ClientOptions }
