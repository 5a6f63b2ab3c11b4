package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Persisted keeps the services and checks registered through the agent's
// API in its data directory (DATA_DIR/services and DATA_DIR/checks, one
// JSON file each, named by a hash of the ID, as Consul does), so that an
// agent that restarts registers them again before its first sync instead
// of deleting them from the catalog. Config-file services are not kept:
// the config files are their record.
//
// A nil *Persisted keeps nothing; every method is then a no-op. Methods
// are safe for concurrent use on different IDs; the HTTP handlers of one
// service are serialized by the caller's order of Add and Save.
type Persisted struct {
	dir string
}

// persistedService is a services/ file: the definition as registered
// (its ID filled in).
type persistedService struct {
	Service *ServiceDefinition
}

// persistedCheck is a checks/ file.
type persistedCheck struct {
	Check *CheckDefinition
}

// OpenPersisted makes the directories under dataDir.
func OpenPersisted(dataDir string) (*Persisted, error) {
	p := &Persisted{dir: dataDir}
	for _, sub := range []string{"services", "checks"} {
		if err := os.MkdirAll(filepath.Join(dataDir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("local: persist: %w", err)
		}
	}
	return p, nil
}

func (p *Persisted) path(kind, id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(p.dir, kind, hex.EncodeToString(sum[:16])+".json")
}

// SaveService records d under id (d's own ID may be empty: the default).
func (p *Persisted) SaveService(id string, d *ServiceDefinition) error {
	if p == nil {
		return nil
	}
	c := *d
	c.ID = id
	return p.write(p.path("services", id), persistedService{Service: &c})
}

// DeleteService forgets a service; forgetting an unknown one is no error.
func (p *Persisted) DeleteService(id string) error {
	if p == nil {
		return nil
	}
	return p.remove(p.path("services", id))
}

// SaveCheck records d under id.
func (p *Persisted) SaveCheck(id string, d *CheckDefinition) error {
	if p == nil {
		return nil
	}
	c := *d
	c.ID, c.CheckID = "", id
	return p.write(p.path("checks", id), persistedCheck{Check: &c})
}

// DeleteCheck forgets a check.
func (p *Persisted) DeleteCheck(id string) error {
	if p == nil {
		return nil
	}
	return p.remove(p.path("checks", id))
}

// Load reads every kept service and check. A file that cannot be read or
// decoded is reported in errs and skipped, never fatal: the agent starts
// with the rest.
func (p *Persisted) Load() (svcs []*ServiceDefinition, chks []*CheckDefinition, errs []error) {
	if p == nil {
		return nil, nil, nil
	}
	for _, kind := range []string{"services", "checks"} {
		files, err := filepath.Glob(filepath.Join(p.dir, kind, "*.json"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if kind == "services" {
				var ps persistedService
				if err := json.Unmarshal(b, &ps); err != nil || ps.Service == nil {
					errs = append(errs, fmt.Errorf("local: persisted service %s: bad file: %v", f, err))
					continue
				}
				svcs = append(svcs, ps.Service)
			} else {
				var pc persistedCheck
				if err := json.Unmarshal(b, &pc); err != nil || pc.Check == nil {
					errs = append(errs, fmt.Errorf("local: persisted check %s: bad file: %v", f, err))
					continue
				}
				chks = append(chks, pc.Check)
			}
		}
	}
	return svcs, chks, errs
}

// write replaces path atomically: a crash leaves the old file or the new.
func (p *Persisted) write(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("local: persist: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("local: persist: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("local: persist: %w", err)
	}
	return nil
}

func (p *Persisted) remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local: persist: %w", err)
	}
	return nil
}
