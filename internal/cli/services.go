package cli

// servicesGroup is `muster services`, Consul's `consul services`.
func servicesGroup() group {
	return group{help: servicesHelp, subs: map[string]command{
		"register":   {"Register services with the local agent", runServicesRegister},
		"deregister": {"Deregister services with the local agent", runServicesDeregister},
	}}
}

const servicesHelp = `
Usage: muster services <subcommand> [options] [args]

  This command has subcommands for registering services with the local agent
  and deregistering them. The agent runs the services' checks and keeps the
  catalog in sync with them.

  Register a service from flags or from a JSON definition file:

      $ muster services register -name=web -port=8080
      $ muster services register web.json

  Deregister it by ID or with the same file:

      $ muster services deregister -id=web
      $ muster services deregister web.json
`
