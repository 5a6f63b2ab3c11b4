package gossip_test

import (
	"context"
	"fmt"
	"time"

	"github.com/musterhq/muster/internal/gossip"
)

// An agent starts its pool, joins the cluster in the background and hands
// membership events to whoever reconciles them (the leader, on servers).
func Example() {
	key, _ := gossip.DecodeKey("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=") // -encrypt
	pool, err := gossip.New(gossip.Config{
		NodeName:   "s1",
		BindAddr:   "10.0.0.1",
		BindPort:   gossip.DefaultPort,
		Datacenter: "dc1",
		Tags:       map[string]string{"role": "consul", "port": "8300", "vsn": "2"},
		EncryptKey: key,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Shutdown()
	defer pool.Leave(5 * time.Second)

	go pool.RetryJoin(context.Background(), []string{"10.0.0.2", "10.0.0.3"}, time.Second, 30*time.Second)
	for ev := range pool.Events() {
		fmt.Println(ev.Type, ev.Member.Name, ev.Member.Status)
	}
}
