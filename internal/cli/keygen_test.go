package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/musterhq/muster/internal/gossip"
)

func TestKeygen(t *testing.T) {
	r := runCLI(context.Background(), "keygen")
	key := strings.TrimSpace(r.out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if b, err := gossip.DecodeKey(key); err != nil || len(b) != 32 {
		t.Fatalf("key %q: %d bytes, %v", key, len(b), err)
	}
	if again := strings.TrimSpace(runCLI(context.Background(), "keygen").out); again == key {
		t.Fatal("two keys are the same")
	}
	if r := runCLI(context.Background(), "keygen", "extra"); r.code != 1 {
		t.Fatalf("keygen with an argument: exit %d", r.code)
	}
}
