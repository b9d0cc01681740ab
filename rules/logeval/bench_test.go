package logeval

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/rules"
)

// BenchmarkEvaluate1000Rules evaluates 1000 log rules (every 1m, 5m
// window, grouped by host) once each against a store holding 1M syslog
// records, two at a time as the evaluator's goroutines run them on two
// cores, and reports the seconds one round takes: it must stay under the
// rules' 60 s interval.
func BenchmarkEvaluate1000Rules(b *testing.B) {
	store, err := embedded.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	const total, batch = 1_000_000, 20_000
	for i := 0; i < total; i += batch {
		recs := make([]logs.Record, batch)
		for j := range recs {
			n := i + j
			recs[j] = logs.Record{
				Timestamp: start.Add(time.Duration(n) * 10 * time.Millisecond),
				HostIP:    fmt.Sprintf("10.0.%d.%d", n%200/100, n%100),
				Message:   fmt.Sprintf("Interface GigabitEthernet0/%d, changed state to down", n%48),
				Fields:    map[string]string{"event.code": fmt.Sprintf("CODE-%d-X", n%200)},
			}
		}
		if err := store.Write(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	var src strings.Builder
	src.WriteString("alerts:\n")
	for i := range 1000 {
		fmt.Fprintf(&src, "  - name: Rule%d\n    severity: minor\n    summary: s\n    logs:\n      - query: 'event.code:\"CODE-%d-X\" AND message:\"changed state\"'\n        window: 5m\n        group_by: [host.ip]\n        condition: count > 100\n", i, i%200)
	}
	c, errs := rules.Parse(rules.File{Name: "bench.yml", Src: []byte(src.String())})
	if errs != nil {
		b.Fatal(errs)
	}
	ev, err := New(Options{Catalogue: func() *rules.Catalogue { return c }, Store: store, Sender: &captured{}})
	if err != nil {
		b.Fatal(err)
	}
	rs := Rules(c)
	end := start.Add(total * 10 * time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		work := make(chan Rule)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for r := range work {
					if err := ev.Eval(context.Background(), r, end); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, r := range rs {
			work <- r
		}
		close(work)
		wg.Wait()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/round")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(rs)), "ms/rule")
}
