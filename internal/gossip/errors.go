package gossip

import "errors"

// Errors returned by the pool. Match them with errors.Is; they may be wrapped
// with detail.
var (
	// ErrShutdown: the pool was shut down; create a new one.
	ErrShutdown = errors.New("gossip: pool is shut down")
	// ErrLeft: the pool left the cluster (Leave); it can only be shut down.
	ErrLeft = errors.New("gossip: pool has left the cluster")
	// ErrNoAddresses: Join or RetryJoin was given nothing to join.
	ErrNoAddresses = errors.New("gossip: no addresses to join")
	// ErrUnknownMember: ForceLeave names a member the pool does not know
	// (never seen, or already reaped). Consul answers such a force-leave
	// with success; the HTTP layer may do the same.
	ErrUnknownMember = errors.New("gossip: unknown member")
	// ErrNotFailed: ForceLeave names a member that is alive or leaving;
	// only failed members can be forced out. Consul answers with success
	// and the member stays alive; the HTTP layer may do the same.
	ErrNotFailed = errors.New("gossip: member is not failed")
	// ErrTagsTooLarge: the encoded tags do not fit in memberlist's node meta.
	ErrTagsTooLarge = errors.New("gossip: tags too large for node meta")
	// ErrInvalidKey: an encryption key is not base64 or has a wrong length.
	ErrInvalidKey = errors.New("gossip: invalid encryption key")
)
