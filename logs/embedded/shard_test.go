package embedded

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

// A day in shards answers as a day in one database: batches large enough
// are split over the shards, small ones go to one shard each in turn, late
// records go between stored ones, and searches and counts over all of it
// give the same records in the same order.
func TestShardsAnswerAsOneDatabase(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	batches := [][]logs.Record{
		make([]logs.Record, 2500), // split three ways
		make([]logs.Record, 40),   // one shard
		make([]logs.Record, 1200), // split two ways
		make([]logs.Record, 700),  // late: the first batch's time again
	}
	storetest.Syslog(start, 0, batches[0])
	storetest.Syslog(start, 2500, batches[1])
	storetest.Syslog(start, 2540, batches[2])
	storetest.Syslog(start.Add(-time.Second), 0, batches[3])
	stores := map[int]*Store{}
	for _, shards := range []int{1, 3} {
		s, err := New(ctx, Options{Dir: t.TempDir(), Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, b := range batches {
			if err := s.Write(ctx, slices.Clone(b)); err != nil {
				t.Fatal(err)
			}
		}
		stores[shards] = s
	}
	p := stores[3].held()[0]
	for i, sh := range p.shards {
		var n int
		if err := sh.db.QueryRowContext(ctx, "SELECT count(*) FROM records").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("shard %d holds no records", i)
		}
	}
	total, err := p.records(ctx)
	if err != nil || total != 4440 {
		t.Fatalf("records over the shards: %d, %v; want 4440", total, err)
	}
	q, _ := query.Parse(`event.code:"LINK-3-UPDOWN" OR message:down`)
	from, to := start.Add(-time.Hour), start.Add(time.Hour)
	for _, limit := range []int{1, 100, 5000} {
		one, err := stores[1].Search(ctx, q, from, to, limit)
		if err != nil {
			t.Fatal(err)
		}
		three, err := stores[3].Search(ctx, q, from, to, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(one) == 0 || len(one) != len(three) {
			t.Fatalf("limit %d: %d records from one database, %d from three shards", limit, len(one), len(three))
		}
		for i := range one {
			if one[i].Original != three[i].Original || !one[i].Timestamp.Equal(three[i].Timestamp) {
				t.Fatalf("limit %d: record %d differs: %q at %s, from shards %q at %s", limit, i, one[i].Original, one[i].Timestamp, three[i].Original, three[i].Timestamp)
			}
		}
	}
	one, err := stores[1].Count(ctx, q, []string{"host.ip"}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	three, err := stores[3].Count(ctx, q, []string{"host.ip"}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	byHost := func(counts []logs.GroupCount) map[string]int64 {
		m := map[string]int64{}
		for _, c := range counts {
			m[c.Group["host.ip"]] += c.Count
		}
		return m
	}
	if a, b := byHost(one), byHost(three); len(a) == 0 || !mapsEqual(a, b) {
		t.Fatalf("counts per host: one database %v, three shards %v", a, b)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Checkpoints run beside the writer, and the log still starts over once
// it is long: writing without pause leaves it bounded.
func TestWriteAheadLogStaysBounded(t *testing.T) {
	defer func(n int64) { walRestartFrames = n }(walRestartFrames)
	walRestartFrames = 64 // 1 MiB of 16 KiB pages
	ctx := context.Background()
	s, err := New(ctx, Options{Dir: t.TempDir(), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now().Truncate(24 * time.Hour)
	recs := make([]logs.Record, 2000)
	var largest int64
	for i := range 30 {
		storetest.Syslog(start, i*len(recs), recs)
		if err := s.Write(ctx, recs); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(s.held()[0].shards[0].path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, fi.Size())
	}
	// A batch is about 2 MiB of log: the log holds the frames of the batch
	// that found it long, plus the bound, plus what the checkpoint that ran
	// beside the writer had not copied yet.
	if largest > 8<<20 {
		t.Fatalf("write-ahead log grew to %d bytes", largest)
	}
	n, err := s.held()[0].records(ctx)
	if err != nil || n != 60000 {
		t.Fatalf("%d records, %v; want 60000", n, err)
	}
}
