package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/config"
	"github.com/musterhq/muster/internal/testagent"
)

func TestTxn_AllOrNothing(t *testing.T) {
	a := testagent.Start(t)
	txn := a.Client.Txn()
	ok, resp, _, err := txn.Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "stock", Value: []byte("10")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "orders", Value: []byte("0")}},
	}, nil)
	if err != nil || !ok || len(resp.Results) != 2 || resp.Results[0].KV.Value != nil {
		t.Fatalf("set txn: %v %+v %v", ok, resp, err)
	}
	stock := resp.Results[0].KV.ModifyIndex

	// One failing op (a stale check-index) fails the whole transaction,
	// and, being bound to fail, it is refused without a log entry.
	before := a.FSMState().LatestIndex()
	ok, resp, _, err = txn.Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "orders", Value: []byte("1")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVCheckIndex, Key: "stock", Index: stock + 100}},
		{KV: &consul.KVTxnOp{Verb: consul.KVGet, Key: "missing"}},
	}, nil)
	if err != nil || ok || len(resp.Errors) != 2 || resp.Errors[0].OpIndex != 1 || resp.Errors[1].OpIndex != 2 ||
		!strings.Contains(resp.Errors[1].What, "doesn't exist") {
		t.Fatalf("failing txn: ok=%v %+v %v", ok, resp, err)
	}
	if p, _, _ := a.Client.KV().Get("orders", nil); string(p.Value) != "0" {
		t.Fatalf("failed txn wrote orders=%q", p.Value)
	}
	if after := a.FSMState().LatestIndex(); after != before {
		t.Fatalf("a refused txn reached the log: index %d -> %d", before, after)
	}

	// The flash-sale decrement: check-index + set, all at once.
	ok, resp, _, err = txn.Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVCheckIndex, Key: "stock", Index: stock}},
		{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "stock", Value: []byte("9")}},
		{KV: &consul.KVTxnOp{Verb: consul.KVGet, Key: "stock"}},
	}, nil)
	if err != nil || !ok || string(resp.Results[2].KV.Value) != "9" {
		t.Fatalf("conditional decrement: %v %+v %v", ok, resp, err)
	}
}

func TestTxn_ReadOnlyNeedsNoWrite(t *testing.T) {
	a := testagent.Start(t)
	a.Client.KV().Put(&consul.KVPair{Key: "t/a", Value: []byte("1")}, nil)
	a.Client.KV().Put(&consul.KVPair{Key: "t/b", Value: []byte("2")}, nil)
	before := a.FSMState().LatestIndex()
	ok, resp, _, err := a.Client.Txn().Txn(consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: consul.KVGetTree, Key: "t/"}},
		{KV: &consul.KVTxnOp{Verb: consul.KVCheckNotExists, Key: "t/c"}},
	}, nil)
	if err != nil || !ok || len(resp.Results) != 2 {
		t.Fatalf("read txn: %v %+v %v", ok, resp, err)
	}
	if after := a.FSMState().LatestIndex(); after != before {
		t.Fatalf("read-only txn moved the index %d -> %d", before, after)
	}
}

func TestTxn_BadInput(t *testing.T) {
	a := testagent.Start(t, func(c *config.Config) { c.Limits.TxnMaxOps = 3; c.Limits.KVMaxValueSize = 10 })
	op := func(verb, key, value string) map[string]any {
		return map[string]any{"KV": map[string]any{"Verb": verb, "Key": key, "Value": []byte(value)}}
	}
	body := func(ops ...map[string]any) string {
		b, _ := json.Marshal(ops)
		return string(b)
	}
	tests := map[string]struct {
		body   string
		status int
		want   string
	}{
		"too many ops":   {body(op("set", "a", ""), op("set", "b", ""), op("set", "c", ""), op("set", "d", "")), 413, "too many operations (4 > 3)"},
		"value too big":  {body(op("set", "a", "01234567890")), 413, "by 1 bytes"},
		"unknown verb":   {body(op("explode", "a", "")), 400, "unknown KV verb"},
		"missing key":    {body(op("set", "", "")), 400, "missing key"},
		"session op":     {`[{"Session":{"Verb":"delete"}}]`, 400, "only KV, Node, Service and Check operations"},
		"nameless node":  {`[{"Node":{"Verb":"get"}}]`, 400, "missing node name"},
		"node verb":      {`[{"Node":{"Verb":"lock","Node":{"Node":"n1"}}}]`, 400, "unknown verb"},
		"check status":   {`[{"Check":{"Verb":"set","Check":{"Node":"n1","CheckID":"c","Status":"sad"}}}]`, 400, "invalid check status"},
		"unknown field":  {`[{"KV":{"Verb":"set","Key":"a","Colour":1}}]`, 400, "unknown field"},
		"malformed json": {`[{"KV":`, 400, "decode failed"},
		"bad base64":     {`[{"KV":{"Verb":"set","Key":"a","Value":"!!"}}]`, 400, "decode failed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, got := do(t, a, "PUT", "/v1/txn", []byte(tc.body))
			if status != tc.status || !strings.Contains(got, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", status, got, tc.status, tc.want)
			}
		})
	}
	if pairs, _, _ := a.Client.KV().List("", nil); len(pairs) != 0 {
		t.Fatalf("refused transactions wrote %v", pairs)
	}
}

// A base64 value of the full size limit fits in a transaction body (Consul
// refuses it: issue #6660).
func TestTxn_FullSizeValueFits(t *testing.T) {
	a := testagent.Start(t)
	v := bytes.Repeat([]byte{0xff}, 512*1024)
	ok, _, _, err := a.Client.Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: consul.KVSet, Key: "big", Value: v}}}, nil)
	if err != nil || !ok {
		t.Fatalf("512 KiB value in a txn: %v %v", ok, err)
	}
}

func TestSnapshot_SaveRestore(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	for i := 0; i < 10; i++ {
		kv.Put(&consul.KVPair{Key: fmt.Sprintf("s/%d", i), Value: []byte("before")}, nil)
	}
	snap, _, err := a.Client.Snapshot().Save(nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(snap)
	snap.Close()
	kv.Put(&consul.KVPair{Key: "s/0", Value: []byte("after")}, nil)
	kv.Put(&consul.KVPair{Key: "s/new", Value: []byte("after")}, nil)

	// A blocked reader of s/0 must wake when the state is replaced.
	_, meta, _ := kv.Get("s/0", nil)
	woke := make(chan string, 1)
	go func() {
		p, _, _ := kv.Get("s/0", &consul.QueryOptions{WaitIndex: meta.LastIndex})
		if p != nil {
			woke <- string(p.Value)
		}
	}()
	if err := a.Client.Snapshot().Restore(nil, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := kv.Get("s/0", nil); p == nil || string(p.Value) != "before" {
		t.Fatalf("after restore s/0 = %+v", p)
	}
	if p, _, _ := kv.Get("s/new", nil); p != nil {
		t.Fatalf("key written after the snapshot survived the restore: %+v", p)
	}
	if v := <-woke; v != "before" {
		t.Fatalf("blocked reader saw %q", v)
	}
	if status, _ := do(t, a, "PUT", "/v1/snapshot", []byte("not a snapshot")); status != 400 {
		t.Fatalf("garbage snapshot: %d, want 400", status)
	}
}

func TestStatusAndCatalog(t *testing.T) {
	a := testagent.Start(t)
	leader, err := a.Client.Status().Leader()
	if err != nil || leader == "" {
		t.Fatalf("leader: %q %v", leader, err)
	}
	peers, err := a.Client.Status().Peers()
	if err != nil || len(peers) != 1 || peers[0] != leader {
		t.Fatalf("peers: %v %v", peers, err)
	}
	nodes, _, err := a.Client.Catalog().Nodes(nil)
	if err != nil || len(nodes) != 1 || nodes[0].Node != a.Config.NodeName {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	checks, _, err := a.Client.Health().Node(a.Config.NodeName, nil)
	if err != nil || len(checks) != 1 || checks[0].CheckID != "serfHealth" || checks[0].Status != "passing" {
		t.Fatalf("node health: %+v %v", checks, err)
	}
	members, err := a.Client.Agent().Members(false)
	if err != nil || len(members) != 1 || members[0].Name != a.Config.NodeName || members[0].Tags["role"] != "consul" {
		t.Fatalf("members: %+v %v", members, err)
	}
	self, err := a.Client.Agent().Self()
	if err != nil || self["Config"]["NodeName"] != a.Config.NodeName || self["Config"]["Datacenter"] != "dc1" {
		t.Fatalf("self: %v %v", self, err)
	}
	raft, err := a.Client.Operator().RaftGetConfiguration(nil)
	if err != nil || len(raft.Servers) != 1 || !raft.Servers[0].Leader || !raft.Servers[0].Voter || raft.Servers[0].Node != a.Config.NodeName {
		t.Fatalf("raft configuration: %+v %v", raft, err)
	}
	dcs, err := a.Client.Catalog().Datacenters()
	if err != nil || len(dcs) != 1 || dcs[0] != "dc1" {
		t.Fatalf("datacenters: %v %v", dcs, err)
	}
	roots, _, err := a.Client.Agent().ConnectCARoots(nil)
	if err != nil || roots.ActiveRootID == "" || len(roots.Roots) != 1 || !strings.Contains(roots.Roots[0].RootCertPEM, "BEGIN CERTIFICATE") {
		t.Fatalf("ca roots: %+v %v", roots, err)
	}
}

// The add extension sells exactly the stock, whoever races for it: a buy is
// one transaction, with no read and no retry.
func TestTxn_AddSellsExactlyTheStock(t *testing.T) {
	a := testagent.Start(t)
	kv := a.Client.KV()
	if _, err := kv.Put(&consul.KVPair{Key: "stock", Value: []byte("100")}, nil); err != nil {
		t.Fatal(err)
	}
	buy := consul.TxnOps{
		{KV: &consul.KVTxnOp{Verb: "add", Key: "stock", Value: []byte("-1")}},
		{KV: &consul.KVTxnOp{Verb: "add", Key: "orders", Value: []byte("1")}},
	}
	var sold atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ok, resp, _, err := a.Client.Txn().Txn(buy, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					if !strings.Contains(resp.Errors[0].What, "below zero") {
						t.Errorf("refused for another reason: %+v", resp.Errors)
					}
					return
				}
				sold.Add(1)
			}
		}()
	}
	wg.Wait()
	stock, _, _ := kv.Get("stock", nil)
	orders, _, _ := kv.Get("orders", nil)
	if sold.Load() != 100 || string(stock.Value) != "0" || string(orders.Value) != "100" {
		t.Fatalf("sold %d, stock %q, orders %q", sold.Load(), stock.Value, orders.Value)
	}

	tests := map[string]struct {
		value  string
		status int
		want   string
	}{
		"not an integer delta": {"many", 400, "decimal integer"},
		"sum below zero":       {"-1", 409, "below zero"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body := fmt.Sprintf(`[{"KV":{"Verb":"add","Key":"stock","Value":%q}}]`, base64.StdEncoding.EncodeToString([]byte(tc.value)))
			status, resp := do(t, a, "PUT", "/v1/txn", []byte(body))
			if status != tc.status || !strings.Contains(resp, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", status, resp, tc.status, tc.want)
			}
		})
	}
	if _, err := kv.Put(&consul.KVPair{Key: "word", Value: []byte("hello")}, nil); err != nil {
		t.Fatal(err)
	}
	ok, resp, _, _ := a.Client.Txn().Txn(consul.TxnOps{{KV: &consul.KVTxnOp{Verb: "add", Key: "word", Value: []byte("1")}}}, nil)
	if ok || !strings.Contains(resp.Errors[0].What, "not a decimal integer") {
		t.Fatalf("add to a word: ok=%v %+v", ok, resp)
	}
}
