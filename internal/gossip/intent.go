package gossip

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// Intents are the pool's own messages, sent as memberlist user broadcasts.
// They carry what memberlist cannot: that a member is leaving on purpose, or
// that an operator forced a failed member out. A member that applies an
// intent and changes state because of it re-broadcasts it, so intents spread
// epidemically like memberlist's own messages and stop once every member
// agrees.

// intentKind says what an intent asks.
type intentKind byte

const (
	intentLeave      intentKind = 1 // Node (itself) is leaving gracefully
	intentForceLeave intentKind = 2 // an operator forced failed Node out
	intentPrune      intentKind = 3 // force-leave, then forget Node at once
)

// msgIntent is the first byte of a user message carrying an intent; other
// values are reserved and ignored.
const msgIntent byte = 1

// stateVersion is the first byte of the pool's push/pull state.
const stateVersion byte = 1

// intent names a member incarnation by its name and its nodeMeta.Instance, so
// an intent about an earlier incarnation never applies to a restarted node.
type intent struct {
	Kind     intentKind `json:"k"`
	Node     string     `json:"n"`
	Instance string     `json:"i"`
}

// pushState is what a member sends with memberlist's push/pull: the members
// it has as left, so a member that missed their intents catches up.
type pushState struct {
	Left   []intent `json:"left,omitempty"`
	Pruned []intent `json:"pruned,omitempty"` // members forgotten within pruneMemory
}

// pruneMemory is how long a pool keeps telling peers, in push/pull, about a
// member it pruned: the prune's broadcast is sent a few times to random
// members, and when the only live ones are few and the dead are many it can
// miss a peer entirely. Push/pull reaches every peer well within this.
const pruneMemory = 5 * time.Minute

// prunedMember is a member forgotten by a prune.
type prunedMember struct {
	instance string
	at       time.Time
}

func encodeIntent(in intent) []byte {
	b, _ := json.Marshal(in) // cannot fail: strings and a byte
	return append([]byte{msgIntent}, b...)
}

func decodeIntent(b []byte) (intent, error) {
	if len(b) == 0 || b[0] != msgIntent {
		return intent{}, fmt.Errorf("gossip: unknown message type")
	}
	var in intent
	if err := json.Unmarshal(b[1:], &in); err != nil {
		return intent{}, fmt.Errorf("gossip: bad intent: %w", err)
	}
	return in, nil
}

// intentBroadcast is an intent in memberlist's transmit-limited queue. A newer
// intent about the same member replaces an older one still queued.
type intentBroadcast struct {
	node   string
	msg    []byte
	notify chan struct{} // nil, or buffered(1): signalled once the queue is done with it
}

var _ memberlist.NamedBroadcast = (*intentBroadcast)(nil)

func (b *intentBroadcast) Name() string    { return "intent/" + b.node }
func (b *intentBroadcast) Message() []byte { return b.msg }

func (b *intentBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*intentBroadcast)
	return ok && o.node == b.node
}

func (b *intentBroadcast) Finished() {
	if b.notify != nil {
		select {
		case b.notify <- struct{}{}:
		default:
		}
	}
}

// queueIntent broadcasts in to the pool. notify, if not nil, must have a
// buffer of 1; it is signalled once the intent has been sent as many times as
// memberlist's retransmit limit asks (or replaced). Pool.mu must not be held.
func (p *Pool) queueIntent(in intent, notify chan struct{}) {
	p.intents.QueueBroadcast(&intentBroadcast{node: in.Node, msg: encodeIntent(in), notify: notify})
}

// handleIntent applies an intent received from a peer and passes it on if it
// changed anything here.
func (p *Pool) handleIntent(b []byte) {
	in, err := decodeIntent(b)
	if err != nil {
		p.log.Debug("ignoring user message", "error", err)
		return
	}
	p.mu.Lock()
	changed := p.applyIntentLocked(in)
	p.mu.Unlock()
	if changed {
		p.queueIntent(in, nil)
	}
}

// applyIntentLocked applies in to the member table and reports whether it
// changed anything. Intents about the local member are ignored: only Leave
// changes the local state, and memberlist refutes false reports of our
// death. Pool.mu must be held.
func (p *Pool) applyIntentLocked(in intent) bool {
	s := p.members[in.Node]
	if s == nil || in.Node == p.cfg.NodeName || in.Instance != s.instance {
		return false
	}
	switch in.Kind {
	case intentLeave:
		switch s.Status {
		case StatusAlive:
			// memberlist's dead message follows; nodeLeft makes it "left".
			p.setStatusLocked(s, StatusLeaving, 0)
			return true
		case StatusFailed:
			// The dead message overtook the intent.
			p.setStatusLocked(s, StatusLeft, EventLeave)
			return true
		}
	case intentForceLeave, intentPrune:
		changed := false
		if s.Status == StatusFailed {
			p.setStatusLocked(s, StatusLeft, EventLeave)
			changed = true
		}
		if in.Kind == intentPrune && s.Status == StatusLeft {
			delete(p.members, in.Node)
			if p.pruned == nil {
				p.pruned = make(map[string]prunedMember)
			}
			p.pruned[in.Node] = prunedMember{instance: s.instance, at: time.Now()}
			p.emitLocked(EventReap, s.clone())
			changed = true
		}
		return changed
	}
	return false
}

// localState encodes the pool's push/pull state.
func (p *Pool) localState() []byte {
	p.mu.Lock()
	var st pushState
	for name, s := range p.members {
		if s.Status == StatusLeft {
			st.Left = append(st.Left, intent{Kind: intentForceLeave, Node: name, Instance: s.instance})
		}
	}
	for name, pm := range p.pruned {
		if time.Since(pm.at) > pruneMemory {
			delete(p.pruned, name)
			continue
		}
		st.Pruned = append(st.Pruned, intent{Kind: intentPrune, Node: name, Instance: pm.instance})
	}
	p.mu.Unlock()
	b, _ := json.Marshal(st) // cannot fail
	return append([]byte{stateVersion}, b...)
}

// mergeState applies a peer's push/pull state: members it has as left that we
// have as failed become left, and members it pruned lately that we have as
// failed or left are forgotten (the same instance only: one that came back
// is kept). Intents learned this way are not re-broadcast;
// push/pull spreads them.
func (p *Pool) mergeState(b []byte) {
	if len(b) == 0 || b[0] != stateVersion {
		p.log.Debug("ignoring push/pull state of unknown version")
		return
	}
	var st pushState
	if err := json.Unmarshal(b[1:], &st); err != nil {
		p.log.Warn("bad push/pull state", "error", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range st.Left {
		in.Kind = intentForceLeave // only ever failed -> left
		p.applyIntentLocked(in)
	}
	for _, in := range st.Pruned {
		in.Kind = intentPrune // only ever failed or left -> forgotten
		p.applyIntentLocked(in)
	}
}
