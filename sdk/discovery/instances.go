package discovery

import (
	"cmp"
	"maps"
	"slices"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/sdk/balance"
)

// toInstances maps the entries of a health query to a snapshot, sorted by
// ID, then address and port, so that an unchanged registry gives an equal
// snapshot and balancers see the same order every time.
func toInstances(entries []*consul.ServiceEntry) []balance.Instance {
	out := make([]balance.Instance, 0, len(entries))
	for _, e := range entries {
		if e == nil || e.Service == nil {
			continue
		}
		s := e.Service
		addr := s.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address // Consul's rule: an empty service address means the node's
		}
		out = append(out, balance.Instance{
			ID:      s.ID,
			Address: addr,
			Port:    s.Port,
			Weight:  balance.WeightOf(s.Weights.Passing, s.Tags, s.Meta),
			Tags:    s.Tags,
			Meta:    s.Meta,
		})
	}
	slices.SortFunc(out, func(a, b balance.Instance) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// equalInstances reports whether two snapshots list the same instances
// with the same fields, in the same order.
func equalInstances(a, b []balance.Instance) bool {
	return slices.EqualFunc(a, b, func(x, y balance.Instance) bool {
		return x.ID == y.ID && x.Address == y.Address && x.Port == y.Port && x.Weight == y.Weight &&
			slices.Equal(x.Tags, y.Tags) && maps.Equal(x.Meta, y.Meta)
	})
}
