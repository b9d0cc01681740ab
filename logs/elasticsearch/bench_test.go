package elasticsearch

import (
	"context"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
)

// BenchmarkWrite measures records indexed per second through the bulk
// path to the test server (which parses and indexes every document, so
// the figure bounds the client, not Elasticsearch).
func BenchmarkWrite(b *testing.B) {
	srv := estest.New(b, estest.Options{})
	s, err := New(Options{URLs: []string{srv.URL()}, SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done; s.Close() }()
	<-s.Ready()
	recs := batch(0, 5000)
	b.ResetTimer()
	for b.Loop() {
		if err := s.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSpoolReplay measures spooling during an outage (fsync'd
// appends) and the replay once the server is back.
func BenchmarkSpoolReplay(b *testing.B) {
	const n = 50000
	for b.Loop() {
		srv := estest.New(b, estest.Options{})
		srv.Stop()
		s, err := New(Options{URLs: []string{srv.URL()}, SpoolDir: b.TempDir(), MaxRetries: 1, RetryBackoffMin: time.Millisecond, RetryBackoffMax: 10 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		began := time.Now()
		for i := 0; i < n; i += 5000 {
			if err := s.Write(ctx, batch(i, 5000)); err != nil {
				b.Fatal(err)
			}
		}
		spooled := time.Since(began)
		began = time.Now()
		srv.Start()
		for !s.spool.Empty() {
			time.Sleep(time.Millisecond)
		}
		replayed := time.Since(began)
		cancel()
		<-done
		s.Close()
		b.ReportMetric(n/spooled.Seconds(), "spooled-records/s")
		b.ReportMetric(n/replayed.Seconds(), "replayed-records/s")
	}
}
