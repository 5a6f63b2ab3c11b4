package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	consul "github.com/hashicorp/consul/api"
)

// Helpers shared by the registry workloads (reg-dereg, health-query,
// check-cpu), which talk to muster through the Consul Go client, as the
// reference numbers were measured with it.

// setupWorkers is how many goroutines register or remove a workload's
// fixture (1000 instances) before and after the timed part.
const setupWorkers = 16

// forEach calls f for 0..n-1 from setupWorkers goroutines and returns the
// first error; after an error the remaining indexes are skipped.
func forEach(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(setupWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() {
						firstErr = fmt.Errorf("item %d: %w", i, err)
						cancel()
					})
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// qo and wo bind a Consul client call to ctx.
func qo(ctx context.Context) *consul.QueryOptions { return (&consul.QueryOptions{}).WithContext(ctx) }
func wo(ctx context.Context) *consul.WriteOptions { return (&consul.WriteOptions{}).WithContext(ctx) }
