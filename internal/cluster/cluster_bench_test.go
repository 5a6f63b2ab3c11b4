package cluster

import (
	"io"
	"log/slog"
	"testing"

	"github.com/musterhq/muster/internal/fsm"
	"github.com/musterhq/muster/internal/state"
)

// BenchmarkApply measures one KV write through Raft and the FSM, without
// HTTP: the floor under every write's latency.
func BenchmarkApply(b *testing.B) {
	for name, dev := range map[string]bool{"dev": true, "durable": false} {
		b.Run(name, func(b *testing.B) {
			cfg := Config{NodeID: "n1", Addr: "127.0.0.1:0", Dev: dev, Bootstrap: true,
				DataDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if !dev {
				mux, err := Listen("127.0.0.1:0", "")
				if err != nil {
					b.Fatal(err)
				}
				cfg.Mux = mux
			}
			c, err := New(cfg, fsm.New())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Shutdown() })
			req := &fsm.KVSRequest{Op: state.VerbSet, Entry: state.KVEntry{Key: "k", Value: make([]byte, 128)}}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := c.Apply(fsm.KVSRequestType, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
