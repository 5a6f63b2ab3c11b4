package local

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/musterhq/muster/internal/state"
)

// Saved definitions load back as they were; a damaged file is reported and
// skipped; forgetting what was never saved is no error; a nil Persisted
// keeps nothing.
func TestPersisted(t *testing.T) {
	dir := t.TempDir()
	p, err := OpenPersisted(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc := &ServiceDefinition{Name: "web", Port: 80, Meta: map[string]string{"k": "v"},
		Check: &CheckDefinition{HTTP: "http://127.0.0.1:1/", Interval: state.Duration(12 * time.Second),
			Header: map[string][]string{"X": {"y"}}, DeregisterCriticalServiceAfter: state.Duration(20 * time.Second)}}
	chk := &CheckDefinition{Name: "disk", TTL: state.Duration(time.Minute)}
	if err := p.SaveService("web-1", svc); err != nil {
		t.Fatal(err)
	}
	if err := p.SaveCheck("disk", chk); err != nil {
		t.Fatal(err)
	}
	if err := p.SaveService("other", &ServiceDefinition{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteService("other"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteCheck("never-saved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checks", "junk.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}

	svcs, chks, errs := p.Load()
	want := *svc
	want.ID = "web-1"
	if len(svcs) != 1 || !reflect.DeepEqual(svcs[0], &want) {
		t.Fatalf("services = %+v, want %+v", svcs, want)
	}
	if len(chks) != 1 || chks[0].CheckID != "disk" || chks[0].TTL != chk.TTL {
		t.Fatalf("checks = %+v", chks)
	}
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one for the damaged file", errs)
	}

	var none *Persisted
	if err := none.SaveService("x", svc); err != nil {
		t.Fatal(err)
	}
	if s, c, e := none.Load(); s != nil || c != nil || e != nil {
		t.Fatal("a nil Persisted loaded something")
	}
}
