package gossip

import (
	"maps"
	"time"

	"github.com/hashicorp/memberlist"
)

// Status is a member's state as the local pool sees it. The values are
// serf's MemberStatus codes, which Consul's /v1/agent/members reports as
// numbers, so they can be passed through unchanged.
type Status int

const (
	StatusNone    Status = iota // not a member (zero value)
	StatusAlive                 // alive or suspected; memberlist has not declared it dead
	StatusLeaving               // announced a graceful leave that has not completed
	StatusLeft                  // left gracefully, or was force-left after failing
	StatusFailed                // declared dead by the failure detector without leaving
)

func (s Status) String() string {
	switch s {
	case StatusNone:
		return "none"
	case StatusAlive:
		return "alive"
	case StatusLeaving:
		return "leaving"
	case StatusLeft:
		return "left"
	case StatusFailed:
		return "failed"
	}
	return "unknown"
}

// Member is one member of the pool as last seen. Values are copies: the
// caller may keep and modify them.
type Member struct {
	Name   string
	Addr   string // advertised IP
	Port   int    // advertised gossip port
	Tags   map[string]string
	Status Status

	// memberlist's protocol range and the version in use.
	ProtocolMin, ProtocolMax, ProtocolCur uint8
	// The pool's own message protocol (delegateProtocol).
	DelegateMin, DelegateMax, DelegateCur uint8
}

// EventType says what happened to a member.
type EventType int

const (
	EventJoin   EventType = iota + 1 // member became alive (first seen, or back after leaving or failing)
	EventLeave                       // member left gracefully or was force-left
	EventFail                        // member was declared dead without leaving
	EventUpdate                      // member changed its tags or address
	EventReap                        // a left or failed member was forgotten after ReapTimeout, or pruned
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	case EventUpdate:
		return "update"
	case EventReap:
		return "reap"
	}
	return "unknown"
}

// Event is a change in membership. Member is the member's state after the
// change (for EventReap, its last state).
type Event struct {
	Type   EventType
	Member Member
}

// memberState is the pool's record of one member; guarded by Pool.mu.
type memberState struct {
	Member
	instance string    // nodeMeta.Instance of the incarnation we know
	changed  time.Time // when Status last changed; drives reaping
}

// clone returns a copy of the member that shares nothing with the record.
func (s *memberState) clone() Member {
	m := s.Member
	m.Tags = maps.Clone(s.Tags)
	return m
}

// setNodeLocked copies memberlist's view of n (address, meta, protocol
// versions) into the record. Pool.mu must be held.
func (p *Pool) setNodeLocked(s *memberState, n *memberlist.Node) {
	s.Name = n.Name
	s.Addr = n.Addr.String()
	s.Port = int(n.Port)
	s.ProtocolMin, s.ProtocolMax, s.ProtocolCur = n.PMin, n.PMax, n.PCur
	s.DelegateMin, s.DelegateMax, s.DelegateCur = n.DMin, n.DMax, n.DCur
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		p.log.Warn("member has unreadable meta", "member", n.Name, "error", err)
		meta.Tags = map[string]string{}
	}
	s.Tags = meta.Tags
	s.instance = meta.Instance
}

// setStatusLocked changes s's status, stamps the change and sends an event
// of type t (none when t is 0). Pool.mu must be held.
func (p *Pool) setStatusLocked(s *memberState, st Status, t EventType) {
	if s.Status != st {
		s.Status = st
		s.changed = time.Now()
		p.countLiveLocked()
	}
	if t != 0 {
		p.emitLocked(t, s.clone())
	}
}

// countLiveLocked refreshes liveMembers, which memberlist's broadcast queue
// reads without locks. Pool.mu must be held.
func (p *Pool) countLiveLocked() {
	n := 0
	for _, s := range p.members {
		if s.Status == StatusAlive || s.Status == StatusLeaving {
			n++
		}
	}
	p.liveMembers.Store(int64(n))
}

// emitLocked sends an event without blocking; when the buffer is full the
// event is dropped, counted and logged. Pool.mu must be held (it orders
// events and guards closing the channel).
func (p *Pool) emitLocked(t EventType, m Member) {
	if p.eventsClosed {
		return
	}
	select {
	case p.events <- Event{Type: t, Member: m}:
	default:
		n := p.dropped.Add(1)
		p.log.Warn("event buffer full, dropping event; reconcile with Members()",
			"event", t.String(), "member", m.Name, "dropped_total", n)
	}
}

// nodeJoined handles memberlist's NotifyJoin: n is alive (new, or back).
func (p *Pool) nodeJoined(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.members[n.Name]
	if s == nil {
		s = &memberState{}
		p.members[n.Name] = s
	}
	p.setNodeLocked(s, n)
	p.setStatusLocked(s, StatusAlive, EventJoin)
}

// nodeLeft handles memberlist's NotifyLeave: n was declared dead, either by
// its own leave message or by the failure detector, which memberlist does
// not tell apart here; a leave intent heard before (status leaving) does.
func (p *Pool) nodeLeft(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.members[n.Name]
	if s == nil {
		s = &memberState{}
		p.members[n.Name] = s
		p.setNodeLocked(s, n)
	}
	switch s.Status {
	case StatusLeaving:
		p.setStatusLocked(s, StatusLeft, EventLeave)
	case StatusLeft, StatusFailed:
		// Already gone (force-left, or a repeat); nothing new.
	default:
		p.setStatusLocked(s, StatusFailed, EventFail)
	}
}

// nodeUpdated handles memberlist's NotifyUpdate: n changed its meta.
func (p *Pool) nodeUpdated(n *memberlist.Node) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.members[n.Name]
	if s == nil {
		s = &memberState{Member: Member{Status: StatusAlive}, changed: time.Now()}
		p.members[n.Name] = s
		p.countLiveLocked()
	}
	p.setNodeLocked(s, n)
	p.emitLocked(EventUpdate, s.clone())
}

// reap forgets members that have been left or failed for longer than the
// reap timeout, as of now. The local member is never reaped.
func (p *Pool) reap(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, s := range p.members {
		if name == p.cfg.NodeName || (s.Status != StatusLeft && s.Status != StatusFailed) {
			continue
		}
		if now.Sub(s.changed) >= p.cfg.ReapTimeout {
			delete(p.members, name)
			p.log.Info("reaped member", "member", name, "status", s.Status.String())
			p.emitLocked(EventReap, s.clone())
		}
	}
}
