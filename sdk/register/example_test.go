package register_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/register"
)

// A service registers itself with an HTTP check and stays registered until
// SIGTERM, when it deregisters.
func ExampleRegister() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := api.NewClient(nil) // $MUSTER_HTTP_ADDR, $CONSUL_HTTP_ADDR or 127.0.0.1:8500
	if err != nil {
		log.Fatal(err)
	}
	r, err := register.Register(ctx, c, &consulapi.AgentServiceRegistration{
		ID: "userservice-10.0.0.7-5726", Name: "UserService", Address: "10.0.0.7", Port: 5726,
		Check: &consulapi.AgentServiceCheck{
			HTTP: "http://10.0.0.7:5726/api/health/index", Interval: "12s", Timeout: "5s",
			DeregisterCriticalServiceAfter: "20s",
		},
	}, register.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// ... serve until the signal ...
	<-r.Done() // deregistered
}

// A worker with no port to probe heartbeats a TTL check with its own view
// of its health.
func ExampleOptions_health() {
	c, _ := api.NewClient(nil)
	var queue interface{ Ping(context.Context) error } // the worker's dependency
	r, err := register.Register(context.Background(), c, &consulapi.AgentServiceRegistration{
		Name:  "mailer",
		Check: &consulapi.AgentServiceCheck{TTL: "15s"}, // beats every 5s
	}, register.Options{Health: func(ctx context.Context) error {
		if queue == nil {
			return errors.New("queue not connected")
		}
		return queue.Ping(ctx)
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Deregister(context.Background())
}
