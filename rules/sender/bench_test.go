package sender

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// BenchmarkSendToAlertmanager measures distinct alerts/s through the queue,
// batching, JSON encoding and HTTP to a loopback server, counted as
// delivered only once the server has answered.
func BenchmarkSendToAlertmanager(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s, err := New(Options{Alertmanagers: []string{srv.URL}, QueueCapacity: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	alerts := make([]Alert, b.N)
	start := time.Now()
	for i := range alerts {
		alerts[i] = Alert{
			Labels:      map[string]string{"alertname": "InterfaceDown", "instance": "sw" + strconv.Itoa(i), "ifIndex": "3"},
			Annotations: map[string]string{"summary": "Interface down"},
			StartsAt:    start,
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	sent := s.metrics.sent.WithLabelValues(srv.URL)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range alerts {
		s.Send(alerts[i])
	}
	for testutil.ToFloat64(sent) < float64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	cancel()
	<-done
}
