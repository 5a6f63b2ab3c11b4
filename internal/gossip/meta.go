package gossip

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/hashicorp/memberlist"
)

// nodeMeta is what a member puts in memberlist's node meta (at most
// memberlist.MetaMaxSize bytes). JSON keeps it readable in packet dumps;
// encoding/json sorts map keys, so the same tags always encode to the same
// bytes, which memberlist relies on to tell an update from a repeat.
type nodeMeta struct {
	// Instance is random per Pool. Intents name it, so a leave intent of an
	// earlier incarnation of a node never applies to a restarted one.
	Instance string            `json:"inst"`
	Tags     map[string]string `json:"tags,omitempty"`
}

func encodeMeta(tags map[string]string, instance string) ([]byte, error) {
	b, err := json.Marshal(nodeMeta{Instance: instance, Tags: tags})
	if err != nil {
		return nil, fmt.Errorf("gossip: encode tags: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, limit %d", ErrTagsTooLarge, len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

// decodeMeta parses another member's node meta. Tags is never nil.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nodeMeta{}, fmt.Errorf("gossip: bad node meta (not a muster member?): %w", err)
	}
	if m.Tags == nil {
		m.Tags = map[string]string{}
	}
	return m, nil
}

// mergeDC returns a copy of tags whose "dc" is dc (or absent when dc is
// empty), so the datacenter tag always matches Config.Datacenter.
func mergeDC(tags map[string]string, dc string) map[string]string {
	out := maps.Clone(tags)
	if out == nil {
		out = map[string]string{}
	}
	delete(out, "dc")
	if dc != "" {
		out["dc"] = dc
	}
	return out
}
