package alertstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// BenchmarkLoad100k is what a restarted replica does before it serves:
// read 100k alerts (ambench's) from the embedded etcd into memory.
func BenchmarkLoad100k(b *testing.B) {
	e := startEtcd(b)
	client := v3client.New(e.Etcd.Server)
	b.Cleanup(func() { client.Close() })
	writer, err := NewAlerts(AlertsOptions{Client: client, KV: e.KV(), Prefix: "/bench/"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := writer.Load(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	const n = 100_000
	for i := 0; i < n; i += 100 {
		batch := make([]*alert.Alert, 100)
		for j := range batch {
			host := fmt.Sprintf("host-%06d", i+j)
			batch[j] = alert.New(model.Alert{
				Labels:      model.LabelSet{"alertname": "BenchDown", "instance": model.LabelValue(host), "job": "bench", "severity": "major"},
				Annotations: model.LabelSet{"summary": model.LabelValue(host + " is down")},
				StartsAt:    now, EndsAt: now.Add(2 * time.Hour),
			}, now, false)
		}
		if err := writer.Put(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		a, err := NewAlerts(AlertsOptions{Client: client, KV: e.KV(), Prefix: "/bench/"})
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Load(ctx); err != nil {
			b.Fatal(err)
		}
		if a.Len() != n {
			b.Fatalf("loaded %d alerts, want %d", a.Len(), n)
		}
	}
}
