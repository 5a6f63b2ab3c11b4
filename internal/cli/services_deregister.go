package cli

import (
	"context"

	consulapi "github.com/hashicorp/consul/api"
)

const servicesDeregisterHelp = `
Usage: muster services deregister [options] [FILE...]

  Deregisters services from the local agent: the one -id names, or each
  service defined in the FILEs (by its id, or its name when it has none).
  FILEs are JSON service definitions, as "muster services register" reads
  them. The command must run against the agent the services were registered
  with.

      $ muster services deregister -id=web
      $ muster services deregister web.json db.json
`

// runServicesDeregister is `muster services deregister`, Consul's `consul
// services deregister`. It stops at the first service the agent refuses
// (an unknown ID, say) and exits 1.
func runServicesDeregister(ctx context.Context, ui *UI, args []string) int {
	var hf httpFlags
	var id string
	fs := newFlagSet("services deregister", servicesDeregisterHelp, ui)
	fs.StringVar(&id, "id", "", "ID of the service to deregister. Must not be set with FILE arguments.")
	hf.addClientFlags(fs)
	hf.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	files := fs.Args()
	switch {
	case len(files) == 0 && id == "":
		ui.error("Service deregistration requires at least one argument or -id.")
		return 1
	case len(files) > 0 && id != "":
		ui.error("Service deregistration requires arguments or -id, not both.")
		return 1
	}
	ids := []string{id}
	if len(files) > 0 {
		svcs, err := readServiceFiles(files)
		if err != nil {
			ui.error("Error: %s", err)
			return 1
		}
		ids = ids[:0]
		for _, svc := range svcs {
			if svc.ID != "" {
				ids = append(ids, svc.ID)
			} else {
				ids = append(ids, svc.Name) // never empty: readServiceFiles requires a name
			}
		}
	}
	c, ok := hf.connect(ui)
	if !ok {
		return 1
	}
	q := (&consulapi.QueryOptions{}).WithContext(ctx)
	for _, id := range ids {
		if err := c.Agent().ServiceDeregisterOpts(id, q); err != nil {
			ui.error("Error deregistering service %q: %s", id, err)
			return 1
		}
		ui.info("Deregistered service: %s", id)
	}
	return 0
}
