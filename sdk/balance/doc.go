// Package balance chooses one instance of a service for each request.
//
// It is the client side of the course's IConsulDispatcher, rebuilt so the
// registry is asked once per change rather than once per request: a resolver
// (fed by blocking queries) keeps a snapshot []Instance of a service's
// healthy instances and replaces it when the registry reports a change; every
// request calls Pick on that snapshot, sends the request to the chosen
// instance, and calls the returned Done when the request finishes:
//
//	inst, done, err := b.Pick(snapshot)
//	if err != nil {
//		return err // ErrNoInstance: nothing healthy to send to
//	}
//	defer done()
//	resp, err := http.Get("http://" + inst.Addr() + "/api/users/all")
//
// Policies, by the names New accepts:
//
//	round-robin      RoundRobin: each instance in turn (the seed's PollingDispatcher)
//	weighted         SmoothWeighted: nginx's smooth weighted round robin
//	random           Random: uniform
//	weighted-random  Random{Weighted: true}: in proportion to Weight (the seed's WeightDispatcher's intent)
//	p2c              P2C: the less loaded of two random instances, by requests in flight
//
// The package depends on the standard library only: it knows nothing of the
// registry's API types, so the same balancers serve an http.RoundTripper, a
// gRPC picker, or a program's own loop. WeightOf turns Consul's weight fields
// into Instance.Weight.
package balance
