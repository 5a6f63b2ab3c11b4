// Package grpcresolver connects gRPC clients to services registered in
// muster (or Consul): a resolver for targets "muster:///<service>", fed by a
// discovery.Watcher, and balancers that choose among the service's
// instances with the policies of package balance.
//
//	r, _ := discovery.NewResolver(client, discovery.Options{})
//	conn, err := grpc.NewClient("muster:///ScoreService",
//		grpc.WithResolvers(grpcresolver.NewBuilder(r)),
//		grpcresolver.WithPolicy("p2c"),
//		grpc.WithTransportCredentials(insecure.NewCredentials()))
//
// The resolver pushes the list of healthy instances to gRPC whenever it
// changes: an instance whose check fails stops getting RPCs once gRPC has
// applied the update, and one that registers gets a connection. Between
// changes nothing is asked of the registry, however many RPCs are made.
//
// The balancers, registered with gRPC when the package is loaded, are named
// "muster_" plus the policy with dashes as underscores: muster_round_robin,
// muster_weighted, muster_random, muster_weighted_random and muster_p2c (see
// BalancerName). Choose one with WithPolicy or a service config's
// loadBalancingConfig; without one, gRPC's default pick_first sends every
// RPC to one instance. They read each instance's weight, tags and metadata
// from the resolver's addresses, and work with other resolvers too, with
// weight 1 for every address.
package grpcresolver
