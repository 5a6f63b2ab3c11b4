package cli

import (
	"context"

	consulapi "github.com/hashicorp/consul/api"
)

const servicesRegisterHelp = `
Usage: muster services register [options] [FILE...]

  Registers one service described by flags, or every service in the FILEs,
  with the local agent (PUT /v1/agent/service/register) and returns. The
  agent runs the services' checks; the services stay registered until
  "muster services deregister" or the API removes them, so give them a check
  with deregister_critical_service_after in case that never happens.

  A FILE is a JSON service definition in Consul's format, {"service": {...}}
  or {"services": [...]}, with keys in snake_case (as in agent config files)
  or CamelCase (as in the HTTP API). HCL files are not supported. Every file
  is read and checked before any service is registered. With FILEs, -name
  is refused; the other flags fill in what a definition leaves out, and -tag
  and -meta add to it, as in Consul.

      $ muster services register -name=web -port=8080 -tag=v1 -meta=team=web
      $ muster services register web.json db.json
`

// servicesRegisterFlags are `muster services register`'s flags.
type servicesRegisterFlags struct {
	http          httpFlags
	kind          string
	id            string
	name          string
	address       string
	port          int
	socket        string
	tags          stringList
	meta          mapFlag
	taggedAddress mapFlag
}

// runServicesRegister is `muster services register`, Consul's `consul
// services register`. It stops at the first service the agent refuses (the
// ones before it stay registered) and exits 1.
func runServicesRegister(ctx context.Context, ui *UI, args []string) int {
	var f servicesRegisterFlags
	fs := newFlagSet("services register", servicesRegisterHelp, ui)
	fs.StringVar(&f.id, "id", "", "ID of the service to register for arg-based registration. Defaults to -name.")
	fs.StringVar(&f.name, "name", "", "Name of the service to register for arg-based registration.")
	fs.StringVar(&f.address, "address", "", "Address of the service to register for arg-based registration.")
	fs.IntVar(&f.port, "port", 0, "Port of the service to register for arg-based registration.")
	fs.StringVar(&f.socket, "socket", "", "Path to the Unix domain socket to register for arg-based registration (conflicts with -address and -port).")
	fs.StringVar(&f.kind, "kind", "", "The service's kind (empty for a typical service).")
	fs.Var(&f.tags, "tag", "A `tag` to add to the service. May be given more than once.")
	fs.Var(&f.meta, "meta", "Metadata to set on the service, as `key=value`. May be given more than once.")
	fs.Var(&f.taggedAddress, "tagged-address", "Tagged address to set on the service, as `key=host:port`. May be given more than once.")
	f.http.addClientFlags(fs)
	f.http.addServerFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	svcs, ok := f.services(ui, fs.Args())
	if !ok {
		return 1
	}
	c, ok := f.http.connect(ui)
	if !ok {
		return 1
	}
	opts := consulapi.ServiceRegisterOpts{}.WithContext(ctx)
	for _, svc := range svcs {
		if err := c.Agent().ServiceRegisterOpts(svc, opts); err != nil {
			ui.error("Error registering service %q: %s", svc.Name, err)
			return 1
		}
		ui.info("Registered service: %s", svc.Name)
	}
	return 0
}

// services returns the services to register: the one the flags describe,
// or those in the files with the flags filled in. It reports bad input on
// ui and returns false.
func (f *servicesRegisterFlags) services(ui *UI, files []string) ([]*consulapi.AgentServiceRegistration, bool) {
	switch {
	case len(files) == 0 && f.name == "":
		ui.error("Service registration requires at least one FILE argument or -name.")
		return nil, false
	case len(files) > 0 && f.name != "":
		ui.error("Service registration requires arguments or -name, not both.")
		return nil, false
	}
	fromFlags := &consulapi.AgentServiceRegistration{
		Kind: consulapi.ServiceKind(f.kind), ID: f.id, Name: f.name, Address: f.address,
		Port: f.port, SocketPath: f.socket, Tags: f.tags, Meta: f.meta,
	}
	for k, v := range f.taggedAddress {
		addr, err := consulapi.ParseServiceAddr(v)
		if err != nil {
			ui.error("Invalid Tagged Address: %v", err)
			return nil, false
		}
		if fromFlags.TaggedAddresses == nil {
			fromFlags.TaggedAddresses = map[string]consulapi.ServiceAddress{}
		}
		fromFlags.TaggedAddresses[k] = addr
	}
	if len(files) == 0 {
		return []*consulapi.AgentServiceRegistration{fromFlags}, true
	}
	svcs, err := readServiceFiles(files)
	if err != nil {
		ui.error("Error: %s", err)
		return nil, false
	}
	for _, svc := range svcs {
		fillFromFlags(svc, fromFlags)
	}
	return svcs, true
}

// fillFromFlags completes a service read from a file with the flags, as
// Consul's register.CombineArgs: a flag sets a field the file leaves
// empty, tags are appended, and meta and tagged addresses from flags win
// over the file's.
func fillFromFlags(svc, flags *consulapi.AgentServiceRegistration) {
	if svc.ID == "" {
		svc.ID = flags.ID
	}
	if svc.Address == "" {
		svc.Address = flags.Address
	}
	if svc.Port == 0 {
		svc.Port = flags.Port
	}
	if svc.Kind == "" {
		svc.Kind = flags.Kind
	}
	if svc.SocketPath == "" {
		svc.SocketPath = flags.SocketPath
	}
	svc.Tags = append(svc.Tags, flags.Tags...)
	for k, v := range flags.Meta {
		if svc.Meta == nil {
			svc.Meta = map[string]string{}
		}
		svc.Meta[k] = v
	}
	for k, v := range flags.TaggedAddresses {
		if svc.TaggedAddresses == nil {
			svc.TaggedAddresses = map[string]consulapi.ServiceAddress{}
		}
		svc.TaggedAddresses[k] = v
	}
}
