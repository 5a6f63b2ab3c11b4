package httpapi

import (
	"encoding/json"
	"testing"
)

// The request decoders must never panic, and whatever they accept must be
// valid by the rules the handlers rely on.
func FuzzTxnDecode(f *testing.F) {
	f.Add([]byte(`[{"KV":{"Verb":"set","Key":"a","Value":"YQ=="}}]`))
	f.Add([]byte(`[{"KV":{"Verb":"lock","Key":"a","Session":"x"}},{"KV":{"Verb":"get","Key":"b"}}]`))
	f.Add([]byte(`[{"Node":{"Verb":"get"}}]`))
	f.Add([]byte(`{`))
	s := &Server{cfg: Config{Limits: DefaultLimits()}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var body []txnOp
		if err := decodeJSON(b, &body); err != nil {
			return
		}
		ops, err := s.validateTxn(body)
		if err != nil {
			return
		}
		if len(ops) > s.cfg.Limits.TxnMaxOps {
			t.Fatalf("accepted %d ops", len(ops))
		}
		for _, op := range ops {
			if !txnVerbs[op.Verb] || validateKey(op.Key) != nil || len(op.Value) > s.cfg.Limits.KVMaxValueSize {
				t.Fatalf("accepted invalid op %+v", op)
			}
		}
	})
}

func FuzzSessionDecode(f *testing.F) {
	f.Add([]byte(`{"Name":"x","TTL":"10s","LockDelay":"15s","Behavior":"delete"}`))
	f.Add([]byte(`{"LockDelay":15,"NodeChecks":[]}`))
	f.Add([]byte(`{"LockDelay":15000000000,"ServiceChecks":[{"ID":"a"}]}`))
	f.Add([]byte(`{"TTL":"1s"}`))
	s := &Server{cfg: Config{Limits: DefaultLimits(), Agent: Agent{NodeName: "n"}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var body sessionBody
		if err := decodeJSON(b, &body); err != nil {
			return
		}
		sess, err := s.newSession(&body)
		if err != nil {
			return
		}
		if sess.Behavior != "release" && sess.Behavior != "delete" || sess.LockDelay < 0 || sess.ID == "" || sess.Node == "" {
			t.Fatalf("accepted invalid session %+v", sess)
		}
		if _, err := json.Marshal(sess); err != nil {
			t.Fatal(err)
		}
	})
}
