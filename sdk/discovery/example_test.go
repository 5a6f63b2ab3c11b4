package discovery_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/musterhq/muster/api"
	"github.com/musterhq/muster/sdk/balance"
	"github.com/musterhq/muster/sdk/discovery"
)

// The course's IConsulDispatcher, rebuilt: one Resolver per agent, one
// http.Client whose Transport routes http://UserService/... to a healthy
// instance. The registry is asked once per change, not once per request.
func Example() {
	client, err := api.NewClient(nil) // $MUSTER_HTTP_ADDR, or 127.0.0.1:8500
	if err != nil {
		log.Fatal(err)
	}
	r, err := discovery.NewResolver(client, discovery.Options{Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	hc := &http.Client{
		Transport: &discovery.Transport{Resolver: r, Policy: balance.PolicyWeighted},
		Timeout:   10 * time.Second,
	}
	resp, err := hc.Get("http://UserService/api/users/all")
	if err != nil {
		log.Fatal(err) // wraps balance.ErrNoInstance when nothing is healthy
	}
	defer resp.Body.Close() // closing the body tells the balancer the request is done
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s answered: %s\n", resp.Request.URL.Host, body)
}

// A program can also read the list itself and pick with its own balancer.
func ExampleResolver_Instances() {
	client, err := api.NewClient(&api.Config{Address: "127.0.0.1:8500"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := discovery.NewResolver(client, discovery.Options{Tag: "primary"})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _ := balance.New(balance.PolicyP2C)
	for range 3 {
		insts, err := r.Instances(ctx, "ScoreService") // waits for the first answer only
		if err != nil {
			log.Fatal(err)
		}
		inst, done, err := b.Pick(insts)
		if err != nil {
			log.Fatal(err) // balance.ErrNoInstance
		}
		fmt.Println("send to", inst.Addr())
		done()
	}
}

// Subscribe pushes every change of the list, for clients that keep
// connections per instance.
func ExampleWatcher_Subscribe() {
	client, err := api.NewClient(nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := discovery.NewResolver(client, discovery.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	w := r.Watch("ScoreService")
	cancel := w.Subscribe(func(insts []balance.Instance) {
		fmt.Println(len(insts), "healthy instances; last query error:", w.Err())
	})
	defer cancel()
	time.Sleep(time.Minute)
}
