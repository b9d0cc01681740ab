package alertstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// BenchmarkPut100 is what one POST /api/v2/alerts of 100 new alerts costs
// the alert store on the embedded etcd, with four writers at once (the
// ambench load) and a subscriber draining as the dispatcher does. It
// reports the process's CPU time per alert, which unlike ns/op does not
// depend on what else the machine runs.
func BenchmarkPut100(b *testing.B) {
	e := startEtcd(b)
	client := v3client.New(e.Etcd.Server)
	b.Cleanup(func() { client.Close() })
	a, err := NewAlerts(AlertsOptions{Client: client, KV: e.KV(), Prefix: "/bench/"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { a.Run(ctx) })
	<-a.Loaded()
	it := a.Subscribe("dispatcher")
	wg.Go(func() {
		defer it.Close()
		for {
			select {
			case <-it.Next():
			case <-ctx.Done():
				return
			}
		}
	})

	now := time.Now()
	var next atomic.Int64
	batch := func() []*alert.Alert {
		out := make([]*alert.Alert, 100)
		for i := range out {
			out[i] = newAlert("BenchDown", fmt.Sprintf("host-%07d", next.Add(1)), now, now.Add(2*time.Hour))
		}
		return out
	}
	cpuBefore := cpuTime()
	b.ResetTimer()
	var writers sync.WaitGroup
	var batches atomic.Int64
	batches.Store(int64(b.N))
	for range 4 {
		writers.Go(func() {
			for batches.Add(-1) >= 0 {
				if err := a.Put(ctx, batch()...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpuBefore).Microseconds())/float64(b.N*100), "cpu-µs/alert")
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "alerts/s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
