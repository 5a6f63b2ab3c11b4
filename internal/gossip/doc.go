// Package gossip is muster's LAN membership pool: a small wrapper over
// hashicorp/memberlist (SWIM) that every agent, server or client, runs.
//
// A Pool gossips its node name, address and tags (role, dc, id, port, build,
// vsn, as Consul's serf tags) and tells the agent who is in the cluster:
//
//	p, err := gossip.New(gossip.Config{NodeName: "s1", BindAddr: "10.0.0.1", BindPort: gossip.DefaultPort, ...})
//	_, err = p.Join([]string{"10.0.0.2"})
//	for ev := range p.Events() { ... }   // join, leave, fail, update, reap
//	p.Members()                          // alive, leaving, left and failed members
//
// # Left versus failed
//
// memberlist only knows alive, suspect and dead, and the Node it hands to its
// event delegate does not say whether a dead node left on purpose (in
// memberlist v0.6.0 Node.State is always StateAlive there; see
// hashicorp/memberlist#293). Like serf, the pool therefore sends its own
// "leave intent" over memberlist's user broadcasts before a graceful leave:
// members that heard the intent mark the leaver "leaving" and then "left" when
// memberlist reports it gone; members that did not hear it mark it "failed".
// ForceLeave uses the same kind of broadcast to turn a failed member into a
// left one. Intents also ride on memberlist's periodic push/pull, so a member
// that missed one (packet loss, partition) still converges on "left". A
// consumer can therefore see EventFail followed by EventLeave for one graceful
// leave, in rare orderings; the last event is the one to trust, and
// Members() is the state to reconcile against.
//
// Members that left or failed stay in Members() for Config.ReapTimeout (then an
// EventReap), so the leader can reconcile them into the catalog.
//
// # Concurrency
//
// All methods are safe for concurrent use. memberlist calls the pool's
// delegates from its own goroutines, sometimes with its node lock held; the
// delegates only take Pool.mu and never call back into memberlist, and no
// method calls into memberlist with Pool.mu held (lock order: memberlist's
// locks, then Pool.mu). Events() never blocks memberlist: when its buffer is
// full, events are dropped, counted (DroppedEvents) and logged.
package gossip
