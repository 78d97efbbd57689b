package etcd

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

// MemberEnv is the environment variable that makes a process of any binary importing this package one etcd
// member: the package's init reads it first thing and, when it is set, runs the member it describes (a JSON
// memberConfig) and exits instead of going on to main. The local backend starts each member so, from its own
// executable (os.Executable), so that a member is a process of its own, which a pause (SIGSTOP) or a crash
// (SIGKILL) hits alone, and no etcd binary has to be installed: the test binaries and redlock-harness alike carry
// the server (go.etcd.io/etcd/server/v3/embed).
const MemberEnv = "REDLOCK_HARNESS_ETCD_MEMBER"

// MemberExecutableEnv, when set, names the binary the local backend starts members from instead of its own
// executable; any binary importing this package will do. A test binary built with the race detector makes
// race-instrumented members, several times slower than a real server and busy enough to starve a small machine;
// its tests point this at a plain build.
const MemberExecutableEnv = "REDLOCK_HARNESS_ETCD_MEMBER_EXECUTABLE"

// memberConfig is one member's part of a cluster, as the backend hands it to the member process.
type memberConfig struct {
	Name string `json:"name"`
	// Dir is the member's directory: its data under data/, its log in etcd.log.
	Dir string `json:"dir"`
	// Client and Peer are the loopback host:port the member serves clients and peers on; Advertise is the peer
	// address the other members dial it at (the backend's front, through which its links pass).
	Client    string `json:"client"`
	Peer      string `json:"peer"`
	Advertise string `json:"advertise"`
	// Cluster is the initial cluster, name=http://advertise,… for every member; Token tells this cluster's members
	// from another run's.
	Cluster string `json:"cluster"`
	Token   string `json:"token"`
	// TickMs and ElectionMs are the heartbeat interval and election timeout.
	TickMs     uint `json:"tick_ms"`
	ElectionMs uint `json:"election_ms"`
}

// dataDir and logFile are where a member keeps its data and its log, inside its directory.
func (m memberConfig) dataDir() string { return filepath.Join(m.Dir, "data") }
func (m memberConfig) logFile() string { return filepath.Join(m.Dir, "etcd.log") }

// embedConfig is the member's server configuration: no fsync (the data survive a SIGKILL in the page cache,
// which is what a crash-restart of a process does, not a power cut), errors only in its log, and the cluster's
// timing.
func (m memberConfig) embedConfig() (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.dataDir()
	cfg.UnsafeNoFsync = true
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{m.logFile()}
	cfg.TickMs, cfg.ElectionMs = m.TickMs, m.ElectionMs
	cfg.InitialCluster = m.Cluster
	cfg.InitialClusterToken = m.Token
	cfg.ClusterState = embed.ClusterStateFlagNew // ignored once the data directory holds a member
	urls := map[string]*[]url.URL{
		m.Client:    &cfg.ListenClientUrls,
		m.Peer:      &cfg.ListenPeerUrls,
		m.Advertise: &cfg.AdvertisePeerUrls,
	}
	for addr, dst := range urls {
		u, err := url.Parse("http://" + addr)
		if err != nil {
			return nil, err
		}
		*dst = []url.URL{*u}
	}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	return cfg, nil
}

// runMemberFromEnv runs the member MemberEnv describes, if it is set, and exits with its status.
func runMemberFromEnv() {
	raw := os.Getenv(MemberEnv)
	if raw == "" {
		return
	}
	if err := runMember(raw); err != nil {
		fmt.Fprintln(os.Stderr, "etcd member:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runMember serves one member until its server stops or fails, or the process is asked to end (SIGTERM, SIGINT).
func runMember(raw string) error {
	var m memberConfig
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return fmt.Errorf("%s: %w", MemberEnv, err)
	}
	cfg, err := m.embedConfig()
	if err != nil {
		return err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-e.Server.StopNotify():
		return fmt.Errorf("server stopped")
	case err := <-e.Err():
		return err
	case <-sig:
		return nil
	}
}
