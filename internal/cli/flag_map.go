package cli

import (
	"fmt"
	"strings"
)

// mapFlag is a repeatable key=value flag, Consul's flags.FlagMapValue
// (-meta, -node-meta, -tagged-address). The value is split at the first
// "=", so it may itself contain "="; a later flag with the same key wins.
type mapFlag map[string]string

func (m *mapFlag) String() string { return joinPairs(*m, ",") }

func (m *mapFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("missing \"=\" value in argument: %s", v)
	}
	if *m == nil {
		*m = mapFlag{}
	}
	(*m)[k] = val
	return nil
}
