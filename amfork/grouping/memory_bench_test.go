package grouping

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkWaitingGroups measures what an aggregation group waiting for
// its first flush holds (heap and goroutine stacks, after a collection),
// here and in upstream's dispatcher, at 10k groups of one alert.
func BenchmarkWaitingGroups(b *testing.B) {
	const groups = 10000
	route, tmpl := loadRoute(b, "route: {receiver: default, group_by: [alertname, instance], group_wait: 1h}\nreceivers: [{name: default}]\n")
	run := map[string]func(*testing.B, *mem.Alerts) (stop func()){
		"upstream": func(b *testing.B, alerts *mem.Alerts) func() {
			d := dispatch.NewDispatcher(alerts, route, &recordingStage{}, nil, nil, time.Minute, nil, quiet, nilRecorder,
				dispatch.NewDispatcherMetrics(false, prometheus.NewRegistry(), nil), tmpl)
			base := runtime.NumGoroutine()
			go d.Run(time.Now())
			d.WaitForLoading()
			// Its groups start their goroutines once it is running.
			for runtime.NumGoroutine()-base < groups {
				time.Sleep(time.Millisecond)
			}
			return d.Stop
		},
		"ours": func(b *testing.B, alerts *mem.Alerts) func() {
			d, err := New(Options{Alerts: alerts, Route: route, Stage: &recordingStage{}, Template: tmpl, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = d.Run(ctx) }()
			<-d.LoadingDone()
			return func() { cancel(); <-done }
		},
	}
	for _, name := range []string{"upstream", "ours"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				alerts := newProvider(b)
				batch := make([]*alert.Alert, groups)
				now := time.Now()
				for i := range batch {
					batch[i] = firing("Down", fmt.Sprint("host", i), "web", now)
				}
				if err := alerts.Put(context.Background(), batch...); err != nil {
					b.Fatal(err)
				}
				before := inUse()
				stop := run[name](b, alerts)
				b.ReportMetric(float64(inUse()-before)/groups, "B/group")
				stop()
			}
		})
	}
}

func inUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
