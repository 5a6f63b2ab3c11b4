package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	consulapi "github.com/hashicorp/consul/api"
)

const membersHelp = `
Usage: muster members [options]

  Outputs the members of the cluster the agent belongs to. Exits 2 when no
  member matches -status.
`

// memberStatus names a member's Status code as serf.MemberStatus does.
func memberStatus(s int) string {
	switch s {
	case 0:
		return "none"
	case 1:
		return "alive"
	case 2:
		return "leaving"
	case 3:
		return "left"
	case 4:
		return "failed"
	}
	return "unknown"
}

// membersFlags are `muster members`'s flags.
type membersFlags struct {
	http     httpFlags
	detailed bool
	status   string
}

// runMembers is `muster members`, Consul's `consul members`. As Consul, it
// exits 2 when no member matches -status.
func runMembers(ctx context.Context, ui *UI, args []string) int {
	var f membersFlags
	fs := newFlagSet("members", membersHelp, ui)
	fs.BoolVar(&f.detailed, "detailed", false, "Provides detailed information about nodes.")
	fs.StringVar(&f.status, "status", ".*", "Only list members whose status matches this regular expression.")
	f.http.addClientFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	statusRe, err := regexp.Compile(f.status)
	if err != nil {
		ui.error("Failed to compile status regexp: %v", err)
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	all, err := c.Agent().MembersOpts(consulapi.MembersOpts{Segment: consulapi.AllSegments})
	if err != nil {
		ui.error("Error retrieving members: %s", err)
		return 1
	}
	var members []*consulapi.AgentMember
	for _, m := range all {
		if statusRe.MatchString(memberStatus(m.Status)) {
			members = append(members, withDefaultTags(m))
		}
	}
	if len(members) == 0 {
		return 2 // Consul's code for "no matching members"
	}
	sort.SliceStable(members, func(i, j int) bool { return memberLess(members[i], members[j]) })
	rows := memberRows
	if f.detailed {
		rows = memberDetailedRows
	}
	writeColumns(ui.Out, rows(members))
	return 0
}

// withDefaultTags fills the partition and segment tags as Consul's members
// command shows them: partition "default"; segment "<all>" for a server
// (muster has one segment, and asks for all), "<default>" for a client.
func withDefaultTags(m *consulapi.AgentMember) *consulapi.AgentMember {
	tags := make(map[string]string, len(m.Tags)+2)
	for k, v := range m.Tags {
		tags[k] = v
	}
	if tags[consulapi.MemberTagKeyPartition] == "" {
		tags[consulapi.MemberTagKeyPartition] = "default"
	}
	switch {
	case tags[consulapi.MemberTagKeyRole] == consulapi.MemberTagValueRoleServer:
		tags[consulapi.MemberTagKeySegment] = "<all>"
	case tags[consulapi.MemberTagKeySegment] == "":
		tags[consulapi.MemberTagKeySegment] = "<default>"
	}
	out := *m
	out.Tags = tags
	return &out
}

// memberLess orders members as Consul does: servers first, then by segment,
// then by name (muster has one partition).
func memberLess(a, b *consulapi.AgentMember) bool {
	as := a.Tags[consulapi.MemberTagKeyRole] == consulapi.MemberTagValueRoleServer
	bs := b.Tags[consulapi.MemberTagKeyRole] == consulapi.MemberTagValueRoleServer
	if as != bs {
		return as
	}
	if sa, sb := a.Tags[consulapi.MemberTagKeySegment], b.Tags[consulapi.MemberTagKeySegment]; sa != sb {
		return sa < sb
	}
	return a.Name < b.Name
}

// memberAddr is the member's gossip address as host:port.
func memberAddr(m *consulapi.AgentMember) string {
	return (&net.TCPAddr{IP: net.ParseIP(m.Addr), Port: int(m.Port)}).String()
}

// memberRows is Consul's standard members table, one []string per line.
func memberRows(members []*consulapi.AgentMember) [][]string {
	rows := [][]string{{"Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Partition", "Segment"}}
	for _, m := range members {
		build := m.Tags["build"]
		if build == "" {
			build = "< 0.3"
		} else if i := strings.Index(build, ":"); i != -1 {
			build = build[:i]
		}
		var typ string
		switch m.Tags[consulapi.MemberTagKeyRole] {
		case consulapi.MemberTagValueRoleServer:
			typ = "server"
		case consulapi.MemberTagValueRoleClient:
			typ = "client"
		default:
			rows = append(rows, []string{m.Name, memberAddr(m), memberStatus(m.Status), "unknown", "", "", "", "", ""})
			continue
		}
		rows = append(rows, []string{
			m.Name, memberAddr(m), memberStatus(m.Status), typ, build, m.Tags["vsn"],
			m.Tags[consulapi.MemberTagKeyDatacenter], m.Tags[consulapi.MemberTagKeyPartition],
			m.Tags[consulapi.MemberTagKeySegment],
		})
	}
	return rows
}

// memberDetailedRows is Consul's -detailed table: every tag, sorted, as
// k=v,k=v.
func memberDetailedRows(members []*consulapi.AgentMember) [][]string {
	rows := [][]string{{"Node", "Address", "Status", "Tags"}}
	for _, m := range members {
		keys := make([]string, 0, len(m.Tags))
		for k := range m.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = k + "=" + m.Tags[k]
		}
		rows = append(rows, []string{m.Name, memberAddr(m), memberStatus(m.Status), strings.Join(pairs, ",")})
	}
	return rows
}

// writeColumns aligns rows as Consul's columnize does: every column but the
// last padded to its widest cell plus two spaces.
func writeColumns(w io.Writer, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}
