package local

import (
	"context"

	"github.com/hashicorp/go-memdb"

	"github.com/musterhq/muster/internal/checks"
	"github.com/musterhq/muster/internal/state"
)

// aliasWatch runs an alias check: it follows, through blocking reads of the
// catalog, the health of another service instance (AliasService, on
// AliasNode or this node) or of a node (AliasNode alone), and reports the
// worst status among their checks, as Consul's alias check does.
type aliasWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startAlias(cfg Config, hc *state.HealthCheck, n checks.Notifier) *aliasWatch {
	ctx, cancel := context.WithCancel(context.Background())
	a := &aliasWatch{cancel: cancel, done: make(chan struct{})}
	node := hc.Definition.AliasNode
	if node == "" {
		node = cfg.Node.Node
	}
	svcID, checkID := hc.Definition.AliasService, hc.CheckID
	go func() {
		defer close(a.done)
		for {
			ws := memdb.NewWatchSet()
			st := cfg.Store()
			ws.Add(st.AbandonCh())
			status, output := aliasStatus(st, ws, node, svcID, checkID)
			n.UpdateCheck(checkID, status, output)
			if ws.WatchCtx(ctx) != nil {
				return // stopped
			}
		}
	}()
	return a
}

func (a *aliasWatch) stop() {
	a.cancel()
	<-a.done
}

// aliasStatus is the worst status among the checks of node that apply to
// service svcID (its own and the node's), or among all of node's checks
// when svcID is empty; the alias check self is never among them.
func aliasStatus(st *state.Store, ws memdb.WatchSet, node, svcID, self string) (string, string) {
	_, all, err := st.NodeChecks(ws, node)
	if err != nil {
		return state.HealthCritical, "alias: " + err.Error()
	}
	if svcID != "" {
		_, n, svcs, err := st.NodeServices(ws, node)
		if err != nil || n == nil || !hasService(svcs, svcID) {
			return state.HealthCritical, "Service not found: " + svcID + " on node " + node
		}
	}
	status := state.HealthPassing
	for _, c := range all {
		// A service alias counts the node's checks and the service's own;
		// a node alias only the node's (Consul's processChecks).
		if c.CheckID == self || c.ServiceID != "" && c.ServiceID != svcID {
			continue
		}
		if c.Status == state.HealthCritical || c.Status == state.HealthWarning && status == state.HealthPassing {
			status = c.Status
		}
	}
	if status == state.HealthPassing {
		return status, "All checks passing."
	}
	return status, "Aliased checks are " + status + "."
}

func hasService(svcs []*state.Service, id string) bool {
	for _, s := range svcs {
		if s.ID == id {
			return true
		}
	}
	return false
}
