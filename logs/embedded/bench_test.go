package embedded

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
	"github.com/kusanagi-dev/kusanagi/logs/syslog"
)

func syslogRecords(start time.Time, n int) []logs.Record {
	recs := make([]logs.Record, n)
	storetest.Syslog(start, 0, recs)
	return recs
}

// BenchmarkWrite measures records/s indexed into the embedded store in
// batches of 5000, the writer's batch size.
func BenchmarkWrite(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := make([]logs.Record, 5000)
	start := time.Now().Truncate(24 * time.Hour)
	b.ReportAllocs()
	var cpu time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		storetest.Syslog(start, i, recs) // a stream: every batch later than the last
		i += len(recs)
		b.StartTimer()
		c := storetest.ProcessCPU()
		if err := s.Write(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
		cpu += storetest.ProcessCPU() - c
	}
	n := float64(b.N * len(recs))
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
}

// BenchmarkWriteParsedSyslog is BenchmarkWrite with the records the
// syslog receiver makes of the benchmark corpus (seven vendors' dialects,
// with sequence numbers, addresses and connection ids that make many
// distinct words): what `kusanagi syslog` hands the store.
//
// In order=time each line is stamped 20 µs after the one before, a
// 50k lines/s stream from gear with synchronised clocks. In
// order=replayed the same 20 seconds of timestamps come round again and
// again, as when one recording is replayed: every record is late, and
// goes between records already stored rather than after them.
func BenchmarkWriteParsedSyslog(b *testing.B) {
	for _, order := range []struct {
		name  string
		stamp stamper
	}{
		{"time", inTimeOrder},
		{"replayed", func(first int, base time.Time) (time.Time, time.Duration) {
			return base.Add(time.Duration(first%20000) * time.Millisecond), time.Millisecond
		}},
	} {
		b.Run("order="+order.name, func(b *testing.B) { writeParsedSyslog(b, context.Background(), order.stamp) })
	}
}

// BenchmarkWriteContext is BenchmarkWriteParsedSyslog/order=time with a
// context that can be cancelled, as the log writer's is: the driver
// watches such a context while each statement runs, which cost a tenth of
// the CPU until the store stopped passing it on to its transactions.
func BenchmarkWriteContext(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writeParsedSyslog(b, ctx, inTimeOrder)
}

// A stamper gives the first timestamp of a batch of lines and their spacing.
type stamper func(first int, base time.Time) (time.Time, time.Duration)

func inTimeOrder(first int, base time.Time) (time.Time, time.Duration) {
	return base.Add(time.Duration(first) * 20 * time.Microsecond), 20 * time.Microsecond
}

func writeParsedSyslog(b *testing.B, ctx context.Context, stamp stamper) {
	const batch = 5000
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Now().Truncate(24 * time.Hour)
	src := netip.MustParseAddr("2001:db8::1")
	recs := make([]logs.Record, batch)
	b.ReportAllocs()
	var cpu time.Duration
	first := 0
	for b.Loop() {
		b.StopTimer()
		start, spacing := stamp(first, base)
		for j, l := range storetest.SyslogLines(first, batch, start, spacing) {
			recs[j] = syslog.Parse(l, src, start, syslog.Profile{})
		}
		first += batch
		b.StartTimer()
		c := storetest.ProcessCPU()
		if err := s.Write(ctx, recs); err != nil {
			b.Fatal(err)
		}
		cpu += storetest.ProcessCPU() - c
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
}

// BenchmarkCountPerGroup is one log rule's evaluation over a 5-minute window
// of a store holding 1M records: a phrase, a keyword and a group_by.
func BenchmarkCountPerGroup(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	const total, batch = 1_000_000, 20_000
	for i := 0; i < total; i += batch {
		recs := syslogRecords(start.Add(time.Duration(i)*10*time.Millisecond), batch)
		if err := s.Write(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	q, _ := query.Parse(`event.code:"LINK-3-UPDOWN" AND message:"changed state to down"`)
	end := start.Add(total * 10 * time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Count(context.Background(), q, []string{"host.ip"}, end.Add(-5*time.Minute), end); err != nil {
			b.Fatal(err)
		}
	}
}
