// Package discovery finds the healthy instances of a service in muster (or
// Consul) and sends requests to them.
//
// A Resolver keeps, per service, a Watcher: one blocking query at a time
// against GET /v1/health/service/<name>?passing&index=N, so the registry is
// asked once per change, not once per request. Each answer replaces an
// immutable []balance.Instance in memory; readers load it without a lock
// or a network call. An instance whose check fails drops out of the list as
// soon as the agent marks it critical (within its check interval or TTL),
// because the blocking query answers on every health change. When the agent
// cannot be reached, the Watcher keeps serving the last good list and
// retries with jittered exponential backoff.
//
//	r, err := discovery.NewResolver(client, discovery.Options{})
//	...
//	defer r.Close()
//	insts, err := r.Instances(ctx, "UserService") // waits for the first answer only
//
// Transport is an http.RoundTripper on top: requests to http://UserService/...
// go to one of the service's instances, chosen by a balancer of package
// balance, and idempotent requests are retried on another instance when the
// connection fails:
//
//	hc := &http.Client{Transport: &discovery.Transport{Resolver: r, Policy: "p2c"}}
//	resp, err := hc.Get("http://UserService/api/users/all")
//
// Subpackage grpcresolver does the same for gRPC ("muster:///UserService").
// This package does not depend on gRPC.
package discovery
