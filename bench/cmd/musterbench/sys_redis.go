package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis starts redis-server on a free loopback port with persistence
// off (--save "" --appendonly no), as a cache would run.
func startRedis(ctx context.Context, dir string, poolSize int) (*proc, *redis.Client, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, "", fmt.Errorf("redis-server not found (apt-get install -y redis-server): %w", err)
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, nil, "", err
	}
	port := strconv.Itoa(ports[0])
	p, err := startProc("redis", dir, bin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--maxclients", "4096")
	if err != nil {
		return nil, nil, "", err
	}
	c := redis.NewClient(&redis.Options{
		Addr:         "127.0.0.1:" + port,
		PoolSize:     poolSize,
		MinIdleConns: poolSize,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	})
	err = p.waitReady(ctx, 30*time.Second, func(ctx context.Context) error { return c.Ping(ctx).Err() })
	if err != nil {
		c.Close()
		p.stop()
		return nil, nil, "", err
	}
	version := "redis"
	if info, err := c.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				version = "redis " + v
			}
		}
	}
	return p, c, version, nil
}

// redisKV is the plain KV surface over Redis.
type redisKV struct{ c *redis.Client }

func (k redisKV) Put(ctx context.Context, key string, value []byte) error {
	return k.c.Set(ctx, key, value, 0).Err()
}

func (k redisKV) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := k.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, errNotFound
	}
	return b, err
}
