package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"github.com/musterhq/muster/internal/testagent"
)

// In-process benchmarks of the hot paths, for profiling
// (go test -bench . -cpuprofile). Side-by-side comparisons with the peers
// live in bench/.

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func put(c *http.Client, url string, body []byte) error {
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func BenchmarkKVPut(b *testing.B) {
	a := testagent.Start(b)
	c := benchClient()
	val := bytes.Repeat([]byte("v"), 128)
	var n atomic.Int64
	b.SetParallelism(8) // 16 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := put(c, fmt.Sprintf("http://%s/v1/kv/bench/%d", a.Addr, n.Add(1)), val); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkKVGet(b *testing.B) {
	a := testagent.Start(b)
	c := benchClient()
	put(c, "http://"+a.Addr+"/v1/kv/bench/get", bytes.Repeat([]byte("v"), 128))
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get("http://" + a.Addr + "/v1/kv/bench/get")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkLockHandoff: 16 contenders on one fair lock; each acquisition
// increments a counter inside the lock.
func BenchmarkLockHandoff(b *testing.B) {
	a := testagent.Start(b)
	c := benchClient()
	kv := a.Client.KV()
	kv.Put(&consul.KVPair{Key: "counter", Value: []byte("0")}, nil)
	var acquisitions atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		sid, _, err := a.Client.Session().CreateNoChecks(&consul.SessionEntry{LockDelay: time.Nanosecond}, nil)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			got, err := a.Client.AcquireWait(context.Background(), "lock", sid, nil, time.Minute)
			if err != nil || !got.Acquired {
				b.Errorf("acquire: %+v %v", got, err)
				return
			}
			resp, err := c.Get("http://" + a.Addr + "/v1/kv/counter?raw")
			if err != nil {
				b.Error(err)
				return
			}
			var v int
			fmt.Fscan(resp.Body, &v)
			resp.Body.Close()
			put(c, "http://"+a.Addr+"/v1/kv/counter", []byte(fmt.Sprint(v+1)))
			acquisitions.Add(1)
			put(c, "http://"+a.Addr+"/v1/kv/lock?release="+sid, nil)
		}
	})
	b.StopTimer()
	p, _, _ := kv.Get("counter", nil)
	if want := fmt.Sprint(acquisitions.Load()); string(p.Value) != want {
		b.Fatalf("counter %s after %s acquisitions: the lock let two holders in", p.Value, want)
	}
}
