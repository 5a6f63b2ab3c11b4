package balance_test

import (
	"fmt"
	"sync/atomic"

	"github.com/musterhq/muster/sdk/balance"
)

// A client keeps the latest snapshot of a service's instances (a resolver
// replaces it when the registry reports a change) and picks from it for each
// request, calling done when the request finishes.
func Example() {
	var snapshot atomic.Pointer[[]balance.Instance]
	insts := []balance.Instance{
		{ID: "user-5726", Address: "127.0.0.1", Port: 5726, Weight: 1},
		{ID: "user-5727", Address: "127.0.0.1", Port: 5727, Weight: 5},
		{ID: "user-5728", Address: "127.0.0.1", Port: 5728, Weight: 10},
	}
	snapshot.Store(&insts)

	b, err := balance.New("weighted")
	if err != nil {
		panic(err)
	}
	counts := map[string]int{}
	for range 16 {
		inst, done, err := b.Pick(*snapshot.Load())
		if err != nil {
			panic(err) // balance.ErrNoInstance: nothing healthy
		}
		counts[inst.Addr()]++ // send the request to http://inst.Addr()/...
		done()
	}
	fmt.Println(counts["127.0.0.1:5726"], counts["127.0.0.1:5727"], counts["127.0.0.1:5728"])
	// Output: 1 5 10
}

// The weight comes from Consul's Weights.Passing, or, as the course
// registers it, from the first tag.
func ExampleWeightOf() {
	fmt.Println(balance.WeightOf(10, nil, nil))                                // Weights.Passing
	fmt.Println(balance.WeightOf(1, []string{"5"}, nil))                       // the course's Tags = { "5" }
	fmt.Println(balance.WeightOf(1, []string{"v2", "weight=3"}, nil))          // a weight= tag
	fmt.Println(balance.WeightOf(1, nil, map[string]string{"weight": "7"}))    // Meta["weight"]
	fmt.Println(balance.WeightOf(1, []string{"primary"}, map[string]string{})) // nothing: 1
	// Output:
	// 10
	// 5
	// 3
	// 7
	// 1
}

// P2C sends requests away from an instance that is still busy with earlier
// ones.
func ExampleP2C() {
	var p balance.P2C
	insts := []balance.Instance{
		{ID: "user-5726", Address: "127.0.0.1", Port: 5726},
		{ID: "user-5727", Address: "127.0.0.1", Port: 5727},
	}
	busy, done, _ := p.Pick(insts) // a slow request, still running
	for range 3 {
		inst, d, _ := p.Pick(insts) // quick requests
		fmt.Println(inst.ID != busy.ID)
		d()
	}
	done()
	// Output:
	// true
	// true
	// true
}

func ExampleNew() {
	_, err := balance.New("least-conn")
	fmt.Println(err)
	// Output: balance: unknown policy "least-conn" (valid: round-robin, weighted, random, weighted-random, p2c)
}
