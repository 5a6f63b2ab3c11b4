package cli

// operatorGroup is `muster operator`, Consul's `consul operator`. Of
// Consul's operator subcommands muster has raft.
func operatorGroup() group {
	return group{help: operatorHelp, subs: map[string]command{
		"raft": {"Interact with the servers' Raft subsystem", operatorRaftGroup().run},
	}}
}

// operatorRaftGroup is `muster operator raft`, Consul's `consul operator
// raft`.
func operatorRaftGroup() group {
	return group{help: operatorRaftHelp, subs: map[string]command{
		"list-peers":  {"Display the current Raft peer configuration", runOperatorRaftListPeers},
		"remove-peer": {"Remove a muster server from the Raft configuration", runOperatorRaftRemovePeer},
	}}
}

const operatorHelp = `
Usage: muster operator <subcommand> [options]

  Provides cluster-level tools for muster operators, such as interacting with
  the Raft subsystem. Use these commands with care: improper use can cause an
  outage and even loss of data.

  Requests are forwarded to the leader when needed, so they can be run from
  any agent in the cluster. Run muster operator <subcommand> with no
  arguments for help on that subcommand.
`

const operatorRaftHelp = `
Usage: muster operator raft <subcommand> [options]

  Interacts with the servers' Raft subsystem: lists the Raft peers or, in
  rare cases, recovers quorum by removing a peer that is gone for good.

      $ muster operator raft list-peers
      $ muster operator raft remove-peer -id=SERVER_ID
`
