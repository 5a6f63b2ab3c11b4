package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// lookPath finds the Consul binary; a variable so tests need no binary.
var lookPath = exec.LookPath

// consulVersion is the first line `bin version` prints; a variable so
// tests need no binary.
var consulVersion = func(bin string) (string, error) {
	out, err := exec.Command(bin, "version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return line, err
}

// checkConsul refuses a binary whose `version` is not Consul's:
// scripts/consul-api-suite.sh puts muster on $PATH as "consul".
func checkConsul(bin string) error {
	line, err := consulVersion(bin)
	if err != nil || !strings.HasPrefix(line, "Consul v") {
		return fmt.Errorf("%s is not a Consul binary: `%s version` said %q (%v)", bin, filepath.Base(bin), line, err)
	}
	return nil
}

// consulHCL raises Consul's cap on HTTP connections from one client IP
// (limits.http_max_conns_per_client, 200 by default). Every bench
// connection comes from 127.0.0.1 and watch-wake alone holds 1000 blocking
// queries, so at the default Consul would refuse most watchers; muster has
// no such cap. 4096 also needs Consul's file descriptor limit above 4116.
const consulHCL = `limits { http_max_conns_per_client = 4096 }`

// resolveConsul settles whether the "consul" system runs and with which
// binary. systems is c.systems as parsed; systemsSet and consulSet say
// whether -systems and -consul were given. Without -systems, consul joins
// the default list when -consul names an executable or consul is on $PATH.
// An explicit "consul" in -systems needs a binary. It returns the systems
// to run, sets c.consul to the binary's absolute path ("" when Consul does
// not run) and c.consulWhy to one line for stderr.
func resolveConsul(c *config, systemsSet, consulSet bool) ([]string, error) {
	systems := c.systems
	if c.cluster {
		c.consul, c.consulWhy = "", "consul: not included (-cluster runs muster and etcd clusters only)"
		return systems, nil
	}
	name, source := "consul", "found on $PATH"
	if consulSet {
		name, source = c.consul, "-consul="+c.consul
	}
	bin, err := lookPath(name)
	if err == nil {
		bin, err = filepath.Abs(bin) // the server runs in the temp dir
	}
	var notConsul error // a "consul" on $PATH that is something else
	switch {
	case err != nil && consulSet:
		return nil, fmt.Errorf("-consul=%s: %w", c.consul, err)
	case err != nil:
		bin = ""
	case !consulSet:
		source += ": " + bin
		if notConsul = checkConsul(bin); notConsul != nil {
			bin = ""
		}
	}
	c.consul = ""
	switch wanted := slices.Contains(systems, "consul"); {
	case systemsSet && wanted && notConsul != nil:
		return nil, fmt.Errorf("-systems includes consul but %w: pass -consul=PATH (scripts/build-consul.sh builds one)", notConsul)
	case systemsSet && wanted && bin == "":
		return nil, fmt.Errorf("-systems includes consul but consul is not on $PATH: pass -consul=PATH (scripts/build-consul.sh builds one)")
	case systemsSet && wanted:
		c.consul, c.consulWhy = bin, "consul: included (in -systems; binary "+source+")"
	case systemsSet:
		c.consulWhy = "consul: not included (not in -systems)"
	case notConsul != nil:
		c.consulWhy = "consul: not included (" + notConsul.Error() + ")"
	case bin == "":
		c.consulWhy = "consul: not included (no -consul=PATH and no consul on $PATH; scripts/build-consul.sh builds one)"
	default:
		c.consul, c.consulWhy = bin, "consul: included (binary "+source+")"
		return parseList("systems", strings.Join(append(slices.Clone(systems), "consul"), ","), allSystems)
	}
	return systems, nil
}

// consulArgs is the command line of Consul's dev agent: one server, state
// in memory, everything on 127.0.0.1 on the given free ports, DNS and gRPC
// off, warnings only, and the connection cap raised (consulHCL).
func consulArgs(httpPort, serfLAN, serfWAN, serverPort int) []string {
	return []string{"agent", "-dev",
		"-bind=127.0.0.1", "-client=127.0.0.1",
		"-http-port=" + strconv.Itoa(httpPort),
		"-serf-lan-port=" + strconv.Itoa(serfLAN),
		"-serf-wan-port=" + strconv.Itoa(serfWAN),
		"-server-port=" + strconv.Itoa(serverPort),
		"-dns-port=-1", "-grpc-port=-1", "-grpc-tls-port=-1",
		"-log-level=warn",
		"-hcl", consulHCL,
	}
}

// startConsul starts bin as `consul agent -dev` (consulArgs) and waits,
// like startMuster, until /v1/status/leader names a leader. Consul speaks
// the HTTP API muster implements, so the same client drives it. A binary
// whose `version` is not Consul's is refused (checkConsul).
func startConsul(ctx context.Context, dir, bin string) (*proc, *musterClient, error) {
	if err := checkConsul(bin); err != nil {
		return nil, nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, nil, err
	}
	p, err := startProc("consul", dir, bin, consulArgs(ports[0], ports[1], ports[2], ports[3])...)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "consul: HTTP API at http://127.0.0.1:%d\n", ports[0])
	c, err := apiClient(ctx, p, bin, ports[0])
	return p, c, err
}
