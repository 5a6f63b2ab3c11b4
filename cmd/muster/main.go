// Command muster is a service registry, health checker, key/value store and
// lock server that speaks Consul's HTTP API.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/musterhq/muster/internal/cli"
)

func main() {
	// The state store is immutable trees that mostly survive each cycle;
	// collecting less often trades some memory for CPU on the write path.
	// GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, &cli.UI{Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
