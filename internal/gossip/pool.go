package gossip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Pool is this agent's membership in the LAN gossip pool. Create it with New;
// end it with Leave (graceful) and Shutdown.
type Pool struct {
	cfg      Config                           // defaults applied; immutable
	log      *slog.Logger                     // immutable; never nil
	instance string                           // nodeMeta.Instance; immutable
	ml       *memberlist.Memberlist           // set in New before the pool is returned
	intents  *memberlist.TransmitLimitedQueue // outgoing intents; has its own lock

	liveMembers atomic.Int64  // alive or leaving members, for the intent queue's retransmit limit
	dropped     atomic.Uint64 // events dropped because the Events buffer was full

	// lifeMu serializes Leave, UpdateTags and Shutdown: memberlist panics on
	// Leave after Shutdown, and UpdateNode after Leave would make the node
	// alive again. Taken before mu.
	lifeMu sync.Mutex

	mu      sync.Mutex
	members map[string]*memberState // guarded by mu; includes the local member
	// pruned remembers members forgotten by a prune, by name, so push/pull
	// spreads the prune to peers that missed its broadcast; guarded by mu.
	pruned       map[string]prunedMember
	meta         []byte     // guarded by mu; encoded local node meta
	left         bool       // guarded by mu; Leave was called
	shutdown     bool       // guarded by mu; Shutdown was called
	events       chan Event // sent to and closed under mu
	eventsClosed bool       // guarded by mu

	done       chan struct{} // closed by Shutdown
	reaperDone chan struct{} // closed when the reaper has stopped
}

// New validates cfg, starts listening on its address and returns the pool,
// alone until Join. The first event is the local member's EventJoin.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	instance, err := newInstanceID()
	if err != nil {
		return nil, err
	}
	meta, err := encodeMeta(mergeDC(cfg.Tags, cfg.Datacenter), instance)
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "gossip"),
		instance:   instance,
		members:    make(map[string]*memberState),
		meta:       meta,
		events:     make(chan Event, cfg.EventBuffer),
		done:       make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	p.intents = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(p.liveMembers.Load()) },
		RetransmitMult: memberlist.DefaultLANConfig().RetransmitMult,
	}
	ml, err := memberlist.Create(cfg.memberlistConfig(p))
	if err != nil {
		return nil, fmt.Errorf("gossip: listen on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	p.ml = ml
	go p.reapLoop()
	self := p.LocalMember()
	p.log.Info("gossip pool started", "node", cfg.NodeName, "addr", self.Addr, "port", self.Port,
		"encrypted", len(cfg.EncryptKey) > 0)
	return p, nil
}

func newInstanceID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("gossip: instance id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// running returns ErrShutdown or ErrLeft when the pool can no longer join or
// change its tags.
func (p *Pool) running() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.shutdown:
		return ErrShutdown
	case p.left:
		return ErrLeft
	}
	return nil
}

// Join contacts each address ("host" or "host:port"; the port defaults to
// this pool's bind port, as memberlist does) and merges state with it. It
// returns how many addresses were contacted; the error is nil if at least one
// was. Joining an address already in the pool is harmless. Blocks up to
// Timing.TCPTimeout per unreachable address.
func (p *Pool) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, ErrNoAddresses
	}
	if err := p.running(); err != nil {
		return 0, err
	}
	n, err := p.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("gossip: join %s: %w", strings.Join(addrs, ", "), err)
	}
	p.log.Info("joined", "addrs", addrs, "contacted", n)
	return n, nil
}

// RetryJoin calls Join until it succeeds, waiting interval after the first
// failure and doubling the wait up to max (Consul's -retry-join, with
// backoff). Each failure is logged. It returns nil once a join succeeded, or
// an error wrapping ctx.Err() (with the last join error) when ctx ends, or
// ErrShutdown when the pool is shut down meanwhile. interval ≤ 0 means 1s;
// maxWait < interval means interval.
func (p *Pool) RetryJoin(ctx context.Context, addrs []string, interval, maxWait time.Duration) error {
	if len(addrs) == 0 {
		return ErrNoAddresses
	}
	if interval <= 0 {
		interval = time.Second
	}
	if maxWait < interval {
		maxWait = interval
	}
	wait := interval
	for attempt := 1; ; attempt++ {
		_, err := p.Join(addrs)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrShutdown) || errors.Is(err, ErrLeft) {
			return err
		}
		p.log.Warn("join failed, retrying", "attempt", attempt, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gossip: retry join %s: %w (last error: %v)", strings.Join(addrs, ", "), ctx.Err(), err)
		case <-p.done:
			t.Stop()
			return ErrShutdown
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// Leave leaves the pool gracefully: the others see this member "left", not
// "failed", and it stops being probed. It first broadcasts a leave intent and
// then memberlist's leave message, waiting for each to go out; timeout bounds
// the whole call (≤ 0 means Timing.BroadcastTimeout). On a timeout the
// broadcasts stay queued and go out while the pool runs, so call Shutdown
// only after Leave returns. After Leave the pool only answers reads and
// Shutdown; a second Leave returns nil. Blocks Shutdown and UpdateTags
// while it runs.
func (p *Pool) Leave(timeout time.Duration) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if timeout <= 0 {
		timeout = p.cfg.Timing.BroadcastTimeout
	}
	deadline := time.Now().Add(timeout)

	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		return ErrShutdown
	}
	if p.left {
		p.mu.Unlock()
		return nil
	}
	p.left = true
	if self := p.members[p.cfg.NodeName]; self != nil {
		p.setStatusLocked(self, StatusLeaving, 0)
	}
	peers := p.liveMembers.Load() > 1
	p.mu.Unlock()
	p.log.Info("leaving the pool")

	if peers {
		// Tell the others this is a leave before memberlist's dead message
		// reaches them; otherwise they would first mark us failed.
		sent := make(chan struct{}, 1)
		p.queueIntent(intent{Kind: intentLeave, Node: p.cfg.NodeName, Instance: p.instance}, sent)
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-sent:
		case <-t.C:
			p.log.Warn("timed out broadcasting leave intent; peers may see a failure before the leave")
		}
		t.Stop()
	}
	// memberlist's Leave treats a zero timeout as "no limit"; keep a bound.
	remaining := max(time.Until(deadline), time.Millisecond)
	if err := p.ml.Leave(remaining); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// ForceLeave marks a failed member as left in the whole pool (Consul's
// force-leave): this pool applies it at once and broadcasts it to the
// others, which apply it if they too see the member as failed. The member
// stays in Members() as left until it is reaped. If it comes back, it is
// alive again. Returns ErrUnknownMember or ErrNotFailed (wrapped) without
// doing anything when name is unknown or not failed; nil for a member that
// already left.
func (p *Pool) ForceLeave(name string) error { return p.forceLeave(name, intentForceLeave) }

// ForceLeavePrune is ForceLeave that also forgets the member at once, in
// every pool that has it as failed or left, with an EventReap (Consul's
// force-leave -prune).
func (p *Pool) ForceLeavePrune(name string) error { return p.forceLeave(name, intentPrune) }

func (p *Pool) forceLeave(name string, kind intentKind) error {
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		return ErrShutdown
	}
	s := p.members[name]
	if s == nil {
		p.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownMember, name)
	}
	if name == p.cfg.NodeName || s.Status == StatusAlive || s.Status == StatusLeaving {
		st := s.Status
		p.mu.Unlock()
		return fmt.Errorf("%w: %q is %s", ErrNotFailed, name, st)
	}
	in := intent{Kind: kind, Node: name, Instance: s.instance}
	p.applyIntentLocked(in)
	p.mu.Unlock()
	p.queueIntent(in, nil)
	p.log.Info("forced member out", "member", name, "prune", kind == intentPrune)
	return nil
}

// Members returns every member the pool knows, the local one included, sorted
// by name: alive and leaving ones, and left and failed ones until they are
// reaped (Config.ReapTimeout). Suspected members count as alive.
func (p *Pool) Members() []Member {
	p.mu.Lock()
	out := make([]Member, 0, len(p.members))
	for _, s := range p.members {
		out = append(out, s.clone())
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LocalMember returns this pool's own member: its advertised address and
// port, current tags and status (alive, leaving, or left after Leave).
func (p *Pool) LocalMember() Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.members[p.cfg.NodeName]; s != nil {
		return s.clone()
	}
	return Member{Name: p.cfg.NodeName} // unreachable: memberlist reports us in New
}

// UpdateTags replaces the local member's tags ("dc" stays Config.Datacenter)
// and broadcasts them; other members get an EventUpdate. It waits up to
// Timing.BroadcastTimeout for the broadcast to go out; on a timeout the tags
// are still applied and spread later. Returns ErrTagsTooLarge (wrapped) and
// changes nothing if the tags do not fit, ErrLeft after Leave.
func (p *Pool) UpdateTags(tags map[string]string) error {
	meta, err := encodeMeta(mergeDC(tags, p.cfg.Datacenter), p.instance)
	if err != nil {
		return err
	}
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if err := p.running(); err != nil {
		return err
	}
	p.mu.Lock()
	p.meta = meta
	p.mu.Unlock()
	if err := p.ml.UpdateNode(p.cfg.Timing.BroadcastTimeout); err != nil {
		return fmt.Errorf("gossip: update tags: %w", err)
	}
	return nil
}

// Events returns the pool's membership events, in the order the pool applied
// them. The channel is buffered (Config.EventBuffer) and never blocks the
// pool: when it is full, events are dropped and counted (DroppedEvents), so a
// consumer that must not miss a change also reconciles with Members() from
// time to time. Closed by Shutdown. There is one channel per pool: several
// readers share its events.
func (p *Pool) Events() <-chan Event { return p.events }

// DroppedEvents returns how many events were dropped because the Events
// buffer was full.
func (p *Pool) DroppedEvents() uint64 { return p.dropped.Load() }

// Shutdown stops gossip and closes the listeners and the Events channel.
// Without a Leave first, the others see this member fail. It waits for a
// running Leave or UpdateTags. Safe to call more than once.
func (p *Pool) Shutdown() error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		return nil
	}
	p.shutdown = true
	p.mu.Unlock()

	close(p.done)
	<-p.reaperDone
	err := p.ml.Shutdown()

	p.mu.Lock()
	p.eventsClosed = true
	close(p.events)
	p.mu.Unlock()
	p.log.Info("gossip pool stopped")
	if err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	return nil
}

// reapLoop forgets long-gone members until Shutdown.
func (p *Pool) reapLoop() {
	defer close(p.reaperDone)
	// Serf checks every 15s; short reap timeouts (tests) need a faster tick.
	every := min(max(p.cfg.ReapTimeout/4, 10*time.Millisecond), 15*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.reap(now)
		}
	}
}
