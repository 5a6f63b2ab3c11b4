package gossip

import (
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is the LAN gossip port, Consul's serf LAN port.
const DefaultPort = 8301

// delegateProtocol is the version of the pool's own messages (node meta,
// intents, push/pull state) that memberlist carries for us. Members report it
// as DelegateMin/Max/Cur.
const delegateProtocol = 1

// Config configures a Pool. NodeName is required; the zero value of every
// other field has a documented default.
type Config struct {
	// NodeName is this member's unique name in the pool. Required.
	NodeName string

	// BindAddr is the IP to listen on for TCP and UDP. Default "0.0.0.0".
	BindAddr string
	// BindPort is the port to listen on for TCP and UDP. 0 picks a free
	// port (tests); agents pass DefaultPort or the -serf-lan-port flag.
	BindPort int
	// AdvertiseAddr is the IP other members use to reach this one. Default:
	// BindAddr, or a private IP of this host when bound to 0.0.0.0.
	AdvertiseAddr string
	// AdvertisePort is the port other members use. Default: the bound port.
	// Ignored when BindPort is 0.
	AdvertisePort int

	// Datacenter is carried as the "dc" tag; a join that would merge members
	// of another datacenter is refused (as Consul's LAN merge delegate
	// does). Empty disables the check and the tag.
	Datacenter string

	// Tags are carried in the node meta, Consul's serf tags: "role"
	// ("consul" for servers, "node" for clients), "id", "port" (server RPC
	// port), "build", "vsn" and so on. The pool does not interpret them,
	// except "dc", which always equals Datacenter. Encoded, they must fit in
	// memberlist.MetaMaxSize (512 bytes) together with the pool's own header.
	Tags map[string]string

	// EncryptKey, when set, encrypts and authenticates all gossip with
	// AES-GCM. It must be 16, 24 or 32 bytes (DecodeKey parses Consul's
	// base64 -encrypt value). Members with another key, or none, cannot join.
	EncryptKey []byte

	// Timing tunes failure detection and gossip. Zero fields take
	// LANTiming's values.
	Timing Timing

	// ReapTimeout is how long a left or failed member stays in Members()
	// before it is forgotten and an EventReap is sent. Default 24h. (Serf
	// keeps failed members 24h, Consul raises it to 72h, and left members
	// 24h; one knob is enough for muster.)
	ReapTimeout time.Duration

	// EventBuffer is the capacity of the Events() channel. Default 1024.
	EventBuffer int

	// Logger receives the pool's and memberlist's logs. Default: discard.
	Logger *slog.Logger
}

// Timing tunes memberlist's failure detector and gossip. See memberlist's
// Config for the full story; in short, a dead member is detected in about
// ProbeInterval + ProbeTimeout + SuspicionMult*max(1, log10(n))*ProbeInterval
// (longer while few peers confirm the suspicion).
type Timing struct {
	ProbeInterval    time.Duration // how often each member probes a random peer
	ProbeTimeout     time.Duration // how long to wait for a direct ack; about the 99th percentile RTT
	SuspicionMult    int           // scales how long a suspect has to refute before it is declared failed
	GossipInterval   time.Duration // how often to gossip queued messages to a few random peers
	PushPullInterval time.Duration // how often to sync full state with a random peer over TCP
	TCPTimeout       time.Duration // dial/IO timeout for joins and push/pull
	BroadcastTimeout time.Duration // how long UpdateTags waits for its broadcast to go out
}

// LANTiming returns memberlist.DefaultLANConfig's timing, which is also what
// Consul uses on a LAN.
func LANTiming() Timing {
	c := memberlist.DefaultLANConfig()
	return Timing{
		ProbeInterval:    c.ProbeInterval,    // 1s
		ProbeTimeout:     c.ProbeTimeout,     // 500ms
		SuspicionMult:    c.SuspicionMult,    // 4
		GossipInterval:   c.GossipInterval,   // 200ms
		PushPullInterval: c.PushPullInterval, // 30s
		TCPTimeout:       c.TCPTimeout,       // 10s
		BroadcastTimeout: 5 * time.Second,    // serf's BroadcastTimeout
	}
}

// FastTiming returns timing for pools on one host (loopback tests, demos):
// failures are detected in well under two seconds. Do not use it across a
// real network: probes would time out on ordinary latency spikes.
func FastTiming() Timing {
	return Timing{
		ProbeInterval:    100 * time.Millisecond,
		ProbeTimeout:     50 * time.Millisecond,
		SuspicionMult:    3,
		GossipInterval:   20 * time.Millisecond,
		PushPullInterval: time.Second,
		TCPTimeout:       time.Second,
		BroadcastTimeout: time.Second,
	}
}

// withDefaults returns t with every zero field taken from LANTiming.
func (t Timing) withDefaults() Timing {
	d := LANTiming()
	if t.ProbeInterval == 0 {
		t.ProbeInterval = d.ProbeInterval
	}
	if t.ProbeTimeout == 0 {
		t.ProbeTimeout = d.ProbeTimeout
	}
	if t.SuspicionMult == 0 {
		t.SuspicionMult = d.SuspicionMult
	}
	if t.GossipInterval == 0 {
		t.GossipInterval = d.GossipInterval
	}
	if t.PushPullInterval == 0 {
		t.PushPullInterval = d.PushPullInterval
	}
	if t.TCPTimeout == 0 {
		t.TCPTimeout = d.TCPTimeout
	}
	if t.BroadcastTimeout == 0 {
		t.BroadcastTimeout = d.BroadcastTimeout
	}
	return t
}

const (
	defaultReapTimeout = 24 * time.Hour
	defaultEventBuffer = 1024
	defaultBindAddr    = "0.0.0.0"
)

// ValidationError names the Config field that is wrong.
type ValidationError struct {
	Field string
	Value any
	Err   error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("gossip: config %s=%v: %v", e.Field, e.Value, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Validate reports the first invalid field as a *ValidationError. It does not
// modify c; New applies the defaults.
func (c *Config) Validate() error {
	if c.NodeName == "" {
		return &ValidationError{"NodeName", c.NodeName, fmt.Errorf("must not be empty")}
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		return &ValidationError{"BindPort", c.BindPort, fmt.Errorf("must be in 0..65535")}
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return &ValidationError{"AdvertisePort", c.AdvertisePort, fmt.Errorf("must be in 0..65535")}
	}
	if len(c.EncryptKey) > 0 {
		if err := checkKeyLen(len(c.EncryptKey)); err != nil {
			return &ValidationError{"EncryptKey", fmt.Sprintf("<%d bytes>", len(c.EncryptKey)), err}
		}
	}
	if _, err := encodeMeta(mergeDC(c.Tags, c.Datacenter), "0000000000000000"); err != nil {
		return &ValidationError{"Tags", len(c.Tags), err}
	}
	t := c.Timing
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Timing.ProbeInterval", t.ProbeInterval},
		{"Timing.ProbeTimeout", t.ProbeTimeout},
		{"Timing.GossipInterval", t.GossipInterval},
		{"Timing.PushPullInterval", t.PushPullInterval},
		{"Timing.TCPTimeout", t.TCPTimeout},
		{"Timing.BroadcastTimeout", t.BroadcastTimeout},
		{"ReapTimeout", c.ReapTimeout},
	} {
		if d.v < 0 {
			return &ValidationError{d.name, d.v, fmt.Errorf("must not be negative")}
		}
	}
	if t.SuspicionMult < 0 {
		return &ValidationError{"Timing.SuspicionMult", t.SuspicionMult, fmt.Errorf("must not be negative")}
	}
	if c.EventBuffer < 0 {
		return &ValidationError{"EventBuffer", c.EventBuffer, fmt.Errorf("must not be negative")}
	}
	return nil
}

// withDefaults returns a copy of c with defaults applied; c must be valid.
func (c Config) withDefaults() Config {
	if c.BindAddr == "" {
		c.BindAddr = defaultBindAddr
	}
	if c.AdvertisePort == 0 {
		c.AdvertisePort = c.BindPort
	}
	c.Timing = c.Timing.withDefaults()
	if c.ReapTimeout == 0 {
		c.ReapTimeout = defaultReapTimeout
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = defaultEventBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// memberlistConfig builds memberlist's configuration from c (with defaults
// applied) and the pool's delegates.
func (c Config) memberlistConfig(p *Pool) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeName
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = c.AdvertisePort

	mc.ProbeInterval = c.Timing.ProbeInterval
	mc.ProbeTimeout = c.Timing.ProbeTimeout
	mc.SuspicionMult = c.Timing.SuspicionMult
	mc.GossipInterval = c.Timing.GossipInterval
	mc.PushPullInterval = c.Timing.PushPullInterval
	mc.TCPTimeout = c.Timing.TCPTimeout
	// As Consul: a node restarted at a new address (a container with a new
	// IP) may take its name back 30s after it was declared dead.
	mc.DeadNodeReclaimTime = 30 * time.Second

	if len(c.EncryptKey) > 0 {
		mc.SecretKey = c.EncryptKey
		mc.GossipVerifyIncoming = true // refuse plaintext
		mc.GossipVerifyOutgoing = true
	}

	mc.DelegateProtocolMin = delegateProtocol
	mc.DelegateProtocolMax = delegateProtocol
	mc.DelegateProtocolVersion = delegateProtocol
	mc.Delegate = (*delegate)(p)
	mc.Events = (*eventDelegate)(p)
	mc.Merge = (*mergeDelegate)(p)
	mc.Logger = log.New(memberlistLog{c.Logger.With("component", "memberlist")}, "", 0)
	return mc
}
