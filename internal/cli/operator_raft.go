package cli

import (
	"context"
	"strconv"

	consulapi "github.com/hashicorp/consul/api"
)

const operatorRaftListPeersHelp = `
Usage: muster operator raft list-peers [options]

  Displays the current Raft peer configuration: each server's node name, Raft
  ID and address, whether it leads, and whether it votes.
`

const operatorRaftRemovePeerHelp = `
Usage: muster operator raft remove-peer [options]

  Removes the server with the given -id or -address from the Raft
  configuration.

  There are rare cases where a peer may be left behind in the Raft quorum even
  though the server is no longer present and known to the cluster. This
  command removes such a failed server so that it no longer affects the Raft
  quorum. If the server still shows in the output of "muster members", prefer
  "muster force-leave".

      $ muster operator raft remove-peer -id=SERVER_ID
      $ muster operator raft remove-peer -address=10.0.0.7:8300
`

// runOperatorRaftListPeers is `muster operator raft list-peers`, Consul's
// `consul operator raft list-peers`: GET /v1/operator/raft/configuration,
// printed as a table.
func runOperatorRaftListPeers(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	fs := newFlagSet("operator raft list-peers", operatorRaftListPeersHelp, ui)
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	reply, err := c.Operator().RaftGetConfiguration(hf.queryOptions(ctx))
	if err != nil {
		ui.error("Error getting peers: Failed to retrieve raft configuration: %v", err)
		return 1
	}
	writeColumns(ui.Out, raftPeerRows(reply.Servers))
	return 0
}

// raftPeerRows is the list-peers table, one []string per line, with the six
// columns of Consul 1.13 and earlier. Consul releases since mid-2023 (PR
// #17582) add "Commit Index" and "Trails Leader By" from each server's
// LastIndex; muster leaves them out because its configuration endpoint
// reports the answering server's applied index for every peer, so every
// follower would seem 0 commits behind.
func raftPeerRows(servers []*consulapi.RaftServer) [][]string {
	rows := [][]string{{"Node", "ID", "Address", "State", "Voter", "RaftProtocol"}}
	for _, s := range servers {
		state := "follower"
		if s.Leader {
			state = "leader"
		}
		protocol := s.ProtocolVersion
		if protocol == "" {
			protocol = "<=1" // as Consul shows a server too old to say
		}
		rows = append(rows, []string{s.Node, s.ID, s.Address, state, strconv.FormatBool(s.Voter), protocol})
	}
	return rows
}

// runOperatorRaftRemovePeer is `muster operator raft remove-peer`, Consul's
// `consul operator raft remove-peer`: DELETE /v1/operator/raft/peer with
// ?id= or ?address=.
func runOperatorRaftRemovePeer(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	var address, id string
	fs := newFlagSet("operator raft remove-peer", operatorRaftRemovePeerHelp, ui)
	fs.StringVar(&address, "address", "", "The address to remove from the Raft configuration.")
	fs.StringVar(&id, "id", "", "The ID to remove from the Raft configuration.")
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	switch {
	case address == "" && id == "":
		ui.error("Error removing peer: an address or id is required for the peer to remove")
		return 1
	case address != "" && id != "":
		ui.error("Error removing peer: cannot give both an address and id")
		return 1
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	op, w := c.Operator(), hf.writeOptions(ctx)
	if address != "" {
		if err := op.RaftRemovePeerByAddress(address, w); err != nil {
			ui.error("Error removing peer: %v", err)
			return 1
		}
		ui.info("Removed peer with address %q", address)
		return 0
	}
	if err := op.RaftRemovePeerByID(id, w); err != nil {
		ui.error("Error removing peer: %v", err)
		return 1
	}
	ui.info("Removed peer with id %q", id)
	return 0
}
