// Command musterbench runs muster side by side with etcd and Redis on
// loopback and prints a comparison table. See bench/README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == floorCmd { // kv-get's net/http floor
		os.Exit(runFloorServer(os.Args[2]))
	}
	if os.Getenv(envEtcdSeckillChild) != "" { // a seckill-procs etcd buyer process
		os.Exit(runEtcdSeckillChild(os.Args[1:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "musterbench:", err)
	}
	stop()
	os.Exit(code)
}
