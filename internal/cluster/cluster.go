// Package cluster wraps hashicorp/raft: it starts a server's Raft node, and
// turns a command into a committed, applied log entry (Apply).
//
// Dev mode is a one-node Raft on in-memory stores, bootstrapped at start, so
// that every write takes the same path as in a cluster.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/musterhq/muster/internal/fsm"
)

// Sentinel errors of Apply.
var (
	// ErrNotLeader means this server cannot accept writes; nothing was applied.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrUnknownOutcome means leadership was lost while the entry was in
	// flight: it may or may not be applied. Never retry a non-idempotent
	// write blindly after it.
	ErrUnknownOutcome = errors.New("cluster: leadership lost, outcome unknown")
	// ErrShutdown means the server is stopping.
	ErrShutdown = errors.New("cluster: shutting down")
)

// Config configures a Raft node.
type Config struct {
	NodeID string // Raft server ID; stable across restarts
	Addr   string // advertised Raft address in dev mode (host:port)
	// Mux is the server port Raft shares with forwarded API calls;
	// required unless Dev. Shutdown closes it.
	Mux *Mux
	Dev bool // in-memory, single node, bootstrapped at start
	// DataDir holds the durable Raft log (fsynced on every commit) and
	// snapshots. Required unless Dev.
	DataDir string
	// LogStore is the durable log's backend: "wal" (raft-wal segments
	// under wal/), "boltdb" (raft.db), or "" (the one DataDir holds; wal
	// for a new one).
	LogStore string
	// Bootstrap makes this node a one-server cluster if it has no Raft state
	// yet (-bootstrap, or -dev).
	Bootstrap bool
	Logger    *slog.Logger // never nil

	// ApplyTimeout bounds how long Apply waits to enqueue an entry.
	ApplyTimeout time.Duration

	// Timing is Raft's failure detection; zero fields take DefaultTiming
	// scaled by RaftMultiplier (dev mode elects itself at once instead).
	Timing Timing
}

// Timing is how fast Raft notices a dead leader. A follower that hears
// nothing for a random time in [HeartbeatTimeout, 2*HeartbeatTimeout)
// starts an election; a leader that cannot reach a quorum for
// LeaderLeaseTimeout steps down.
type Timing struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
}

// BaseTiming is the timing at raft_multiplier 1: a dead leader is replaced
// in about half a second on a LAN. (Consul's base is four times slower and
// its default multiplier 5; muster's default multiplier is 1.)
var BaseTiming = Timing{
	HeartbeatTimeout:   250 * time.Millisecond,
	ElectionTimeout:    250 * time.Millisecond,
	LeaderLeaseTimeout: 200 * time.Millisecond,
}

// Scaled returns BaseTiming times m (m < 1 counts as 1), with the fields
// set in t kept.
func (t Timing) Scaled(m int) Timing {
	if m < 1 {
		m = 1
	}
	d := time.Duration(m)
	if t.HeartbeatTimeout == 0 {
		t.HeartbeatTimeout = BaseTiming.HeartbeatTimeout * d
	}
	if t.ElectionTimeout == 0 {
		t.ElectionTimeout = BaseTiming.ElectionTimeout * d
	}
	if t.LeaderLeaseTimeout == 0 {
		t.LeaderLeaseTimeout = min(BaseTiming.LeaderLeaseTimeout*d, t.HeartbeatTimeout)
	}
	return t
}

// Cluster is a running Raft node.
type Cluster struct {
	cfg    Config
	raft   *raft.Raft
	trans  raft.Transport
	stores *stores
	// hadState is set when the node has (or bootstrapped) a configuration.
	hadState bool

	// readyCh is closed once this node, as leader, has applied every entry
	// committed before its term (MarkReady); a new one replaces it when
	// leadership is lost (MarkUnready). readyMu serializes those two; a
	// read (WaitReady) only loads the pointer.
	readyMu sync.Mutex
	readyCh atomic.Pointer[chan struct{}]
}

// New starts a Raft node applying to f. In dev mode it runs in memory; else
// its log and snapshots live under DataDir. With Bootstrap (or Dev) and no
// existing Raft state it bootstraps a one-server configuration. When this
// node is the only voter it returns once it leads; otherwise at once (a
// server waiting for -bootstrap-expect peers or to be added by a leader).
func New(cfg Config, f *fsm.FSM) (*Cluster, error) {
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if !cfg.Dev && cfg.Mux == nil {
		return nil, errors.New("cluster: a server port is required outside -dev mode")
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = raftLogger(cfg)
	t := cfg.Timing
	if cfg.Dev {
		// A single server has nobody to wait for: elect it at once.
		t = Timing{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	}
	t = t.Scaled(1)
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = t.HeartbeatTimeout, t.ElectionTimeout, t.LeaderLeaseTimeout
	rc.CommitTimeout = 5 * time.Millisecond
	// Entries grouped into one commit (and one fsync) under load. raft
	// allocates a batch of this capacity for every commit it applies, so
	// dev mode, which commits without an fsync at up to tens of thousands
	// of commits a second, keeps raft's default (64).
	if !cfg.Dev {
		rc.MaxAppendEntries = 512
	}
	rc.SnapshotThreshold = 16384
	rc.SnapshotInterval = 30 * time.Second

	st, err := openStores(cfg)
	if err != nil {
		return nil, err
	}
	trans := newTransport(cfg)
	has, err := raft.HasExistingState(st.logs, st.stable, st.snaps)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("cluster: read raft state: %w", err)
	}
	if cfg.Dev || cfg.Bootstrap {
		if !has {
			boot := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: trans.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, st.logs, st.stable, st.snaps, trans, boot); err != nil {
				st.close()
				return nil, fmt.Errorf("cluster: bootstrap: %w", err)
			}
		}
	}
	r, err := raft.NewRaft(rc, f, st.logs, st.stable, st.snaps, trans)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	c := &Cluster{cfg: cfg, raft: r, trans: trans, stores: st, hadState: has || cfg.Dev || cfg.Bootstrap}
	notReady := make(chan struct{})
	c.readyCh.Store(&notReady)
	if !c.soleVoter() {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitLeader(ctx); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// soleVoter reports whether this node is the only voter of its
// configuration, so it can elect itself without anyone else.
func (c *Cluster) soleVoter() bool {
	fut := c.raft.GetConfiguration()
	if fut.Error() != nil {
		return false
	}
	servers := fut.Configuration().Servers
	return len(servers) == 1 && servers[0].ID == raft.ServerID(c.cfg.NodeID) && servers[0].Suffrage == raft.Voter
}

// HasState reports whether this server had a Raft configuration when it
// started (or bootstrapped one): such a server never bootstraps again.
func (c *Cluster) HasState() bool { return c.hadState }

// BootstrapServers makes the first configuration of a new cluster from
// servers (-bootstrap-expect). Every server of the set may call it with the
// same list; the call fails harmlessly on a server that has state.
func (c *Cluster) BootstrapServers(servers []Server) error {
	var conf raft.Configuration
	for _, s := range servers {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address), Suffrage: raft.Voter})
	}
	if err := c.raft.BootstrapCluster(conf).Error(); err != nil {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	c.hadState = true
	return nil
}

// AddVoter adds a server to the configuration (or updates its address); a
// no-op when it is already there with that address. Leader only.
func (c *Cluster) AddVoter(id, addr string) error {
	if err := c.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 0).Error(); err != nil {
		return mapRaftError(err)
	}
	return nil
}

// TransferLeadership hands leadership to another voter and waits for it.
func (c *Cluster) TransferLeadership() error {
	if err := c.raft.LeadershipTransfer().Error(); err != nil {
		return mapRaftError(err)
	}
	return nil
}

// RemoveServer removes a server from the configuration. Leader only.
func (c *Cluster) RemoveServer(id string) error {
	if err := c.raft.RemoveServer(raft.ServerID(id), 0, 0).Error(); err != nil {
		return mapRaftError(err)
	}
	return nil
}

// WaitLeader blocks until this node is leader or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for c.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: no leader: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Apply proposes a command and blocks until it is committed and applied on
// this server, returning the FSM's response and the entry's Raft index. See
// the sentinel errors for what a failure means.
func (c *Cluster) Apply(t fsm.MessageType, body any) (any, uint64, error) {
	data, err := fsm.Encode(t, time.Now().UnixNano(), body)
	if err != nil {
		return nil, 0, err
	}
	fut := c.raft.Apply(data, c.cfg.ApplyTimeout)
	if err := fut.Error(); err != nil {
		return nil, 0, mapRaftError(err)
	}
	return fut.Response(), fut.Index(), nil
}

// ApplyRaw is Apply for a body encoded by fsm.EncodeBody elsewhere (a
// command forwarded by another agent); this leader stamps its clock.
func (c *Cluster) ApplyRaw(t fsm.MessageType, body []byte) (any, uint64, error) {
	fut := c.raft.Apply(fsm.EncodeRaw(t, time.Now().UnixNano(), body), c.cfg.ApplyTimeout)
	if err := fut.Error(); err != nil {
		return nil, 0, mapRaftError(err)
	}
	return fut.Response(), fut.Index(), nil
}

func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	}
	return fmt.Errorf("cluster: apply: %w", err)
}

// MarkReady waits (up to timeout) until the FSM has applied every entry
// committed before this leader's term, then lets reads on this leader
// through (WaitReady). A leader is elected with a log that can be ahead of
// its FSM (after a restart, or a follower that lagged): until then its
// state store may lack acknowledged writes. Called by the leader loop on
// gaining leadership.
func (c *Cluster) MarkReady(timeout time.Duration) error {
	if err := c.raft.Barrier(timeout).Error(); err != nil {
		return mapRaftError(err)
	}
	c.readyMu.Lock()
	defer c.readyMu.Unlock()
	if ch := *c.readyCh.Load(); !closed(ch) {
		close(ch)
	}
	return nil
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// MarkUnready is MarkReady's undoing, on losing leadership.
func (c *Cluster) MarkUnready() {
	c.readyMu.Lock()
	defer c.readyMu.Unlock()
	if closed(*c.readyCh.Load()) {
		ch := make(chan struct{})
		c.readyCh.Store(&ch)
	}
}

// WaitReady blocks while this node leads but has not yet applied what was
// committed before its term. It returns at once on a follower (whose
// reads are stale by request) and fails with ErrNotLeader when ctx ends
// first.
func (c *Cluster) WaitReady(ctx context.Context) error {
	if !c.IsLeader() {
		return nil
	}
	select {
	case <-*c.readyCh.Load():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: the new leader has not caught up yet", ErrNotLeader)
	}
}

// Ready reports, without blocking, whether WaitReady would return at once:
// this node does not lead, or it leads and has caught up. Readers check it
// first so the common case costs no timer.
func (c *Cluster) Ready() bool {
	if !c.IsLeader() {
		return true
	}
	select {
	case <-*c.readyCh.Load():
		return true
	default:
		return false
	}
}

// IsLeader reports whether this node is the Raft leader.
func (c *Cluster) IsLeader() bool { return c.raft.State() == raft.Leader }

// LeaderCh delivers true when this node becomes leader and false when it
// stops being leader. Only one goroutine may read it.
func (c *Cluster) LeaderCh() <-chan bool { return c.raft.LeaderCh() }

// Leader returns the leader's Raft address, or "" if none is known. It is
// also the leader's server port, where forwarded API calls go.
func (c *Cluster) Leader() string {
	addr, _ := c.raft.LeaderWithID()
	return string(addr)
}

// LeaderID returns the leader's server ID, or "" if none is known.
func (c *Cluster) LeaderID() string {
	_, id := c.raft.LeaderWithID()
	return string(id)
}

// VerifyLeader confirms with a quorum that this node is still leader; reads
// that must be linearizable call it first.
func (c *Cluster) VerifyLeader() error {
	if err := c.raft.VerifyLeader().Error(); err != nil {
		return mapRaftError(err)
	}
	return nil
}

// LastContact is the time since the leader was last heard from: zero on the
// leader itself.
func (c *Cluster) LastContact() time.Duration {
	if c.IsLeader() {
		return 0
	}
	lc := c.raft.LastContact()
	if lc.IsZero() {
		return 0
	}
	return time.Since(lc)
}

// Server is one member of the Raft configuration.
type Server struct {
	ID      string
	Address string
	Leader  bool
	Voter   bool
}

// Servers returns the current Raft configuration.
func (c *Cluster) Servers() ([]Server, uint64, error) {
	fut := c.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return nil, 0, mapRaftError(err)
	}
	leader := c.Leader()
	var out []Server
	for _, s := range fut.Configuration().Servers {
		out = append(out, Server{
			ID:      string(s.ID),
			Address: string(s.Address),
			Leader:  string(s.Address) == leader,
			Voter:   s.Suffrage == raft.Voter,
		})
	}
	return out, fut.Index(), nil
}

// CloseServerPort stops accepting connections on the server port (Raft
// keeps its open ones until Shutdown). Agent shutdown calls it first.
func (c *Cluster) CloseServerPort() {
	if c.cfg.Mux != nil {
		c.cfg.Mux.Close()
	}
}

// HTTPListener is the server port's half for forwarded API calls; nil in
// dev mode.
func (c *Cluster) HTTPListener() net.Listener {
	if c.cfg.Mux == nil {
		return nil
	}
	return c.cfg.Mux.HTTP()
}

// AppliedIndex is the index of the last entry applied to the FSM.
func (c *Cluster) AppliedIndex() uint64 { return c.raft.AppliedIndex() }

// Restore replaces the whole state with a snapshot stream, through Raft, so
// every server installs it. The caller has checked that data parses.
func (c *Cluster) Restore(data []byte) error {
	cfg := c.raft.GetConfiguration()
	if err := cfg.Error(); err != nil {
		return mapRaftError(err)
	}
	meta := &raft.SnapshotMeta{
		Version:            raft.SnapshotVersionMax,
		Index:              c.raft.LastIndex(),
		Term:               1,
		Configuration:      cfg.Configuration(),
		ConfigurationIndex: cfg.Index(),
		Size:               int64(len(data)),
	}
	if err := c.raft.Restore(meta, bytes.NewReader(data), time.Minute); err != nil {
		return mapRaftError(err)
	}
	return nil
}

// Shutdown stops the Raft node and waits for it.
func (c *Cluster) Shutdown() error {
	err := c.raft.Shutdown().Error()
	if t, ok := c.trans.(io.Closer); ok {
		t.Close()
	}
	if c.cfg.Mux != nil {
		c.cfg.Mux.Close()
	}
	if cerr := c.stores.close(); err == nil {
		err = cerr
	}
	return err
}

func raftLogger(cfg Config) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{cfg.Logger}})
}

// slogWriter sends hclog's lines to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(trimNewline(p)), "component", "raft")
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
