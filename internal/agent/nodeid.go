package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-uuid"
)

// nodeID returns the agent's node ID: the configured one, else the one kept
// in dataDir/node-id, else a new one (written there when there is a data
// dir). A server's ID is its Raft ID, so it must survive restarts: a
// restarted server then rejoins as itself.
func nodeID(configured, dataDir string) (string, error) {
	if configured != "" {
		if _, err := uuid.ParseUUID(configured); err != nil {
			return "", fmt.Errorf("agent: node id %q is not a UUID: %w", configured, err)
		}
		return configured, nil
	}
	path := ""
	if dataDir != "" {
		path = filepath.Join(dataDir, "node-id")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			id := strings.TrimSpace(string(b))
			if _, err := uuid.ParseUUID(id); err != nil {
				return "", fmt.Errorf("agent: %s holds %q, not a UUID: %w", path, id, err)
			}
			return id, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("agent: read node id: %w", err)
		}
	}
	id, err := uuid.GenerateUUID()
	if err != nil {
		return "", fmt.Errorf("agent: node id: %w", err)
	}
	if path != "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return "", fmt.Errorf("agent: data dir: %w", err)
		}
		if err := os.WriteFile(path, []byte(id), 0o600); err != nil {
			return "", fmt.Errorf("agent: write node id: %w", err)
		}
	}
	return id, nil
}
