package balance

import (
	"fmt"
	"strconv"
)

// list returns one instance per weight, with IDs "a", "b", ... and ports
// 8001, 8002, ....
func list(weights ...int) []Instance {
	out := make([]Instance, len(weights))
	for i, w := range weights {
		out[i] = Instance{ID: idOf(i), Address: "10.0.0.1", Port: 8001 + i, Weight: w}
	}
	return out
}

func idOf(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return "i" + strconv.Itoa(i)
}

// policies returns a fresh Balancer of every policy, by name.
func policies() map[string]Balancer {
	out := map[string]Balancer{}
	for _, name := range Policies() {
		b, err := New(name)
		if err != nil {
			panic(fmt.Sprintf("New(%q): %v", name, err))
		}
		out[name] = b
	}
	return out
}

// countPicks picks n times from insts, calling each Done at once, and
// counts picks by ID.
func countPicks(b Balancer, insts []Instance, n int) (map[string]int, error) {
	counts := map[string]int{}
	for range n {
		inst, done, err := b.Pick(insts)
		if err != nil {
			return nil, err
		}
		done()
		counts[inst.ID]++
	}
	return counts, nil
}
