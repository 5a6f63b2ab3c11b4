package gossip

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

// The pool implements memberlist's extension points through these named
// views of *Pool, so Pool's own method set stays the public API. memberlist
// calls them from its goroutines, the event delegate with its node lock
// held: they must not block and must not call back into memberlist.

// delegate carries node meta, intents and push/pull state.
type delegate Pool

var _ memberlist.Delegate = (*delegate)(nil)

// NodeMeta returns the encoded local tags; New and UpdateTags have checked
// that they fit in limit (memberlist.MetaMaxSize).
func (d *delegate) NodeMeta(limit int) []byte {
	p := (*Pool)(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta
}

func (d *delegate) NotifyMsg(b []byte) { (*Pool)(d).handleIntent(b) }

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.intents.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte { return (*Pool)(d).localState() }

func (d *delegate) MergeRemoteState(b []byte, join bool) { (*Pool)(d).mergeState(b) }

// eventDelegate keeps the member table in step with memberlist.
type eventDelegate Pool

var _ memberlist.EventDelegate = (*eventDelegate)(nil)

func (e *eventDelegate) NotifyJoin(n *memberlist.Node)   { (*Pool)(e).nodeJoined(n) }
func (e *eventDelegate) NotifyLeave(n *memberlist.Node)  { (*Pool)(e).nodeLeft(n) }
func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { (*Pool)(e).nodeUpdated(n) }

// mergeDelegate refuses joins that would merge two pools that are not the
// same muster datacenter. memberlist calls it on both sides of a join.
type mergeDelegate Pool

var _ memberlist.MergeDelegate = (*mergeDelegate)(nil)

func (m *mergeDelegate) NotifyMerge(peers []*memberlist.Node) error {
	dc := m.cfg.Datacenter
	for _, n := range peers {
		meta, err := decodeMeta(n.Meta)
		if err != nil {
			return fmt.Errorf("gossip: member %q: %w", n.Name, err)
		}
		if other := meta.Tags["dc"]; dc != "" && other != "" && other != dc {
			return fmt.Errorf("gossip: member %q is in datacenter %q, not %q", n.Name, other, dc)
		}
	}
	return nil
}
