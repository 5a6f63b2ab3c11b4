package ui_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/musterhq/muster/internal/agent"
	"github.com/musterhq/muster/internal/testagent"
)

// clusterPeersJS describes the Raft peers table: one
// "name:leader:healthy:serf" per row, in table order.
const clusterPeersJS = `[...document.querySelectorAll('#raft-peers tbody tr')].map(r =>
	[r.dataset.server, r.dataset.leader, r.dataset.healthy, r.dataset.serfStatus].join(':')).join(' ')`

// A dev agent is one healthy voter leading itself; on a phone-sized
// screen the table scrolls inside its box, never the page.
func TestClusterPage_Dev(t *testing.T) {
	b := newBrowser(t, nil, 390, 844)
	// Headless Chromium opens no window narrower than 500 px: emulate a
	// phone's viewport.
	b.run(t, "narrow viewport", chromedp.EmulateViewport(390, 844))
	b.open(t, "#/cluster", "#raft-peers")
	b.waitJS(t, "cluster page", `String(window.innerWidth)`, "390", 5*time.Second)
	name := b.agent.Config.NodeName
	b.waitJS(t, "cluster page", clusterPeersJS, name+":true:true:alive", 15*time.Second)
	b.waitText(t, "#cluster-dc", b.agent.Config.Datacenter, 5*time.Second)
	b.waitText(t, "#cluster-version", agent.Version, 5*time.Second)
	b.waitText(t, "#cluster-leader", name, 5*time.Second)
	b.waitText(t, "#cluster-tolerance", "0", 5*time.Second)
	if voter := b.text(t, "#raft-peers tbody tr td:nth-child(3)"); voter != "yes" {
		t.Errorf("voter cell %q, want yes", voter)
	}
	var overflow bool
	b.run(t, "page width", chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow))
	if overflow {
		t.Error("the page scrolls sideways at 390 px; only the table may")
	}
	b.screenshot(t, "cluster-narrow")
	// The table's last column is reachable by scrolling its box.
	var reachable bool
	b.run(t, "scroll the table", chromedp.Evaluate(`(() => {
		const wrap = document.querySelector('#main .table-wrap');
		wrap.scrollLeft = wrap.scrollWidth;
		const r = document.querySelector('#raft-peers th:last-child').getBoundingClientRect();
		return r.width > 0 && r.right <= window.innerWidth + 1;
	})()`, &reachable))
	if !reachable {
		t.Error("the table's last column cannot be scrolled into view")
	}
}

// Three servers, one leading; a follower killed turns unhealthy (and
// failed in gossip) on the open page, which keeps polling without a
// reload.
func TestClusterPage_ThreeServers(t *testing.T) {
	c := testagent.StartCluster(t, 3, 0)
	leader := c.WaitLeader(10 * time.Second)
	b := newBrowser(t, leader, 1280, 800)
	b.open(t, "#/cluster", "#raft-peers")

	all := func(healthy, serf map[string]string) string {
		out := leader.Config.NodeName + ":true:" + healthy[leader.Config.NodeName] + ":" + serf[leader.Config.NodeName]
		for _, s := range []string{"s1", "s2", "s3"} {
			if s != leader.Config.NodeName {
				out += " " + s + ":false:" + healthy[s] + ":" + serf[s]
			}
		}
		return out
	}
	alive := map[string]string{"s1": "alive", "s2": "alive", "s3": "alive"}
	b.waitJS(t, "cluster page", clusterPeersJS, all(map[string]string{"s1": "true", "s2": "true", "s3": "true"}, alive), 30*time.Second)
	b.waitText(t, "#cluster-tolerance", "1", 5*time.Second)
	b.screenshot(t, "cluster")

	var victim int
	for i, s := range c.Servers {
		if s != leader {
			victim = i
		}
	}
	name := c.Servers[victim].Config.NodeName
	b.run(t, "mark the page", chromedp.Evaluate(`window.notReloaded = true`, nil))
	c.Kill(victim)
	b.waitJS(t, "cluster page", `(document.querySelector('#raft-peers tr[data-server="`+name+`"]')?.dataset.healthy || '') + ':' +
		(document.querySelector('#raft-peers tr[data-server="`+name+`"]')?.dataset.serfStatus || '')`, "false:failed", 30*time.Second)
	b.waitText(t, "#cluster-tolerance", "0", 5*time.Second)
	b.waitText(t, "#cluster-health", "unhealthy", 5*time.Second)
	var same bool
	b.run(t, "no reload", chromedp.Evaluate(`window.notReloaded === true`, &same))
	if !same {
		t.Error("the page was reloaded")
	}
}
