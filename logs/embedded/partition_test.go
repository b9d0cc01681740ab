package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// clock is a settable time for retention tests.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func rec(ts time.Time, host string) logs.Record {
	return logs.Record{Timestamp: ts, HostIP: host, Message: "Interface Gi0/1, changed state to down",
		Fields: map[string]string{"event.code": "LINK-3-UPDOWN"}}
}

func partitionFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, shard, ok := parsePartitionFile(e.Name()); ok && shard == 0 {
			out = append(out, e.Name()) // a day's first shard
		}
	}
	return out
}

// Records go to the partition of their UTC day; a window across midnight
// counts and searches both days as one store.
func TestPartitionsSpanDays(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var recs []logs.Record
	for i := -3; i < 3; i++ { // three records before midnight, three after
		recs = append(recs, rec(midnight.Add(time.Duration(i)*time.Minute), []string{"2001:db8::1", "192.0.2.7"}[(i+3)%2]))
	}
	recs = append(recs, rec(midnight.Add(-47*time.Hour), "2001:db8::1")) // two days before
	if err := s.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if got, want := partitionFiles(t, dir), []string{"logs-2026-11-24.db", "logs-2026-11-25.db", "logs-2026-11-26.db"}; !slices.Equal(got, want) {
		t.Fatalf("partition files %v, want %v", got, want)
	}
	q, _ := query.Parse(`event.code:"LINK-3-UPDOWN" AND message:"changed state to down"`)
	counts, err := s.Count(ctx, q, []string{"host.ip"}, midnight.Add(-2*time.Minute), midnight.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, gc := range counts {
		got[gc.Group["host.ip"]] += gc.Count
	}
	// Hosts alternate from -3m: each has one record on either side of
	// midnight within [-2m, +2m).
	want := map[string]int64{"192.0.2.7": 2, "2001:db8::1": 2}
	if len(counts) != 2 || got["192.0.2.7"] != want["192.0.2.7"] || got["2001:db8::1"] != want["2001:db8::1"] {
		t.Fatalf("counts across midnight %v, want one entry per host %v", counts, want)
	}

	// Newest first across partitions, the limit cutting into the older day.
	found, err := s.Search(ctx, nil, midnight.Add(-48*time.Hour), midnight.Add(time.Hour), 4)
	if err != nil {
		t.Fatal(err)
	}
	var stamps []time.Duration
	for _, r := range found {
		stamps = append(stamps, r.Timestamp.Sub(midnight))
	}
	if !slices.Equal(stamps, []time.Duration{2 * time.Minute, time.Minute, 0, -time.Minute}) {
		t.Fatalf("search newest first with limit 4: offsets from midnight %v", stamps)
	}
	all, err := s.Search(ctx, nil, midnight.Add(-48*time.Hour), midnight.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 || !all[6].Timestamp.Equal(midnight.Add(-47*time.Hour)) {
		t.Fatalf("search over three days: %d records, oldest %v", len(all), all[len(all)-1].Timestamp)
	}

	// Reopened, the store finds its partitions and appends after their rows.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(ctx, []logs.Record{rec(midnight.Add(3*time.Minute), "2001:db8::1")}); err != nil {
		t.Fatal(err)
	}
	again, err := s.Search(ctx, nil, midnight.Add(-48*time.Hour), midnight.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 8 || !again[0].Timestamp.Equal(midnight.Add(3*time.Minute)) {
		t.Fatalf("after reopening: %d records, newest %v", len(again), again[0].Timestamp)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := newClock(now)
	reg := prometheus.NewRegistry()
	s, err := New(ctx, Options{Dir: dir, RetentionDays: 2, Now: clk.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Days 24, 25 and 26 are within two days of now (day 24 ends 36 hours
	// ago); day 23 ended 60 hours ago.
	var recs []logs.Record
	for _, d := range []int{24, 25, 26} {
		for range d - 20 { // 4, 5 and 6 records
			recs = append(recs, rec(time.Date(2026, 11, d, 10, 0, 0, 0, time.UTC), "2001:db8::1"))
		}
	}
	old := rec(time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC), "2001:db8::1")
	if err := s.Write(ctx, append(recs, old)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.refusedExpired); got != 1 {
		t.Fatalf("refused records older than the retention: %v, want 1", got)
	}
	if files := partitionFiles(t, dir); !slices.Equal(files, []string{"logs-2026-11-24.db", "logs-2026-11-25.db", "logs-2026-11-26.db"}) {
		t.Fatalf("partition files %v", files)
	}

	s.ApplyRetention()
	if n := len(partitionFiles(t, dir)); n != 3 {
		t.Fatalf("retention dropped a partition too early: %d left", n)
	}
	clk.Set(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) // day 24 ended exactly two days ago
	s.ApplyRetention()
	if files := partitionFiles(t, dir); !slices.Equal(files, []string{"logs-2026-11-25.db", "logs-2026-11-26.db"}) {
		t.Fatalf("after day 24 expired: %v", files)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "logs-2026-11-24*")); len(left) > 0 {
		t.Fatalf("files of the dropped partition are still there: %v", left)
	}
	if got := testutil.ToFloat64(s.metrics.droppedRecords); got != 4 {
		t.Fatalf("records dropped by retention: %v, want 4", got)
	}
	if n, err := testutil.GatherAndCount(reg, "kusanagi_logs_embedded_partitions"); err != nil || n != 1 {
		t.Fatalf("partitions gauge: %d series, %v", n, err)
	}
	if v := gaugeValue(t, reg, "kusanagi_logs_embedded_partitions"); v != 2 {
		t.Fatalf("kusanagi_logs_embedded_partitions = %v, want 2", v)
	}
	if v := gaugeValue(t, reg, "kusanagi_logs_embedded_size_bytes"); v <= 0 {
		t.Fatalf("kusanagi_logs_embedded_size_bytes = %v", v)
	}
	all, err := s.Search(ctx, nil, now.Add(-10*24*time.Hour), now.Add(10*24*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5+6 {
		t.Fatalf("records left: %d, want 11", len(all))
	}
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Writers, readers and retention at once, under -race: the clock runs a
// day per round, so that retention drops partitions that queries are
// reading and writers are filling. Queries on a dropped partition finish
// on it; nothing fails, and every record written is either still there or
// counted as dropped by retention or refused.
func TestConcurrentWriteQueryRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	clk := newClock(start)
	s, err := New(ctx, Options{Dir: dir, RetentionDays: 1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, _ := query.Parse(`event.code:"LINK-3-UPDOWN" AND message:down`)
	const rounds = 6
	var written atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				now := clk.Now()
				batch := make([]logs.Record, 50)
				for j := range batch {
					// Spread over the last two days: some land in a
					// partition that retention is about to drop.
					batch[j] = rec(now.Add(-time.Duration(j)*time.Hour), fmt.Sprintf("10.0.%d.%d", w, j%5))
				}
				if err := s.Write(ctx, batch); err != nil {
					t.Error(err)
					return
				}
				written.Add(int64(len(batch)))
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				now := clk.Now()
				if _, err := s.Count(ctx, q, []string{"host.ip"}, now.Add(-72*time.Hour), now.Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Search(ctx, q, now.Add(-72*time.Hour), now.Add(time.Hour), 20); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range rounds {
		time.Sleep(150 * time.Millisecond)
		clk.Add(24 * time.Hour)
		s.ApplyRetention()
	}
	close(stop)
	wg.Wait()
	counts, err := s.Count(ctx, nil, nil, start.Add(-time.Hour), clk.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var kept int64
	for _, gc := range counts {
		kept += gc.Count
	}
	dropped := int64(testutil.ToFloat64(s.metrics.droppedRecords))
	refused := int64(testutil.ToFloat64(s.metrics.refusedExpired))
	if kept+dropped+refused != written.Load() {
		t.Fatalf("written %d, kept %d + dropped %d + refused %d = %d", written.Load(), kept, dropped, refused, kept+dropped+refused)
	}
	if dropped == 0 {
		t.Fatal("retention dropped nothing: the test did not exercise it")
	}
	if n := len(partitionFiles(t, dir)); n > 3 {
		t.Fatalf("%d partition files left with one day of retention", n)
	}
}

// A query holding a partition that retention drops reads it to the end;
// the files go when the query lets go.
func TestDroppedPartitionOutlivesQuery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	clk := newClock(day.Add(time.Hour))
	s, err := New(ctx, Options{Dir: dir, RetentionDays: 1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(ctx, []logs.Record{rec(day.Add(time.Minute), "2001:db8::1")}); err != nil {
		t.Fatal(err)
	}
	held, err := s.window(day, day.Add(time.Hour))
	if err != nil || len(held) != 1 {
		t.Fatalf("window: %v, %v", held, err)
	}
	clk.Add(3 * 24 * time.Hour)
	s.ApplyRetention()
	if files := partitionFiles(t, dir); len(files) != 1 {
		t.Fatalf("a held partition was deleted: %v", files)
	}
	if found, err := s.Search(ctx, nil, day, day.Add(time.Hour), 10); err != nil || len(found) != 0 {
		t.Fatalf("a new query still sees the dropped partition: %v, %v", found, err)
	}
	counts, err := held[0].count(ctx, nil, nil, day, day.Add(time.Hour))
	if err != nil || len(counts) != 1 || counts[0].Count != 1 {
		t.Fatalf("the query in flight on the dropped partition: %v, %v", counts, err)
	}
	s.release(held...)
	if files := partitionFiles(t, dir); len(files) != 0 {
		t.Fatalf("released, the dropped partition is still there: %v", files)
	}
	if got := testutil.ToFloat64(s.metrics.droppedRecords); got != 1 {
		t.Fatalf("records dropped by retention: %v, want 1", got)
	}
}

// Ids follow time to the millisecond; records that arrive late, in the
// same millisecond as others or earlier than the newest, in one batch or
// after reopening, all get ids of their own and sort by time.
// With shards, small batches go to one shard each in turn, so a search
// merges records of one millisecond from several shards.
func TestLateRecordsKeepTimeOrder(t *testing.T) {
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) { testLateRecordsKeepTimeOrder(t, shards) })
	}
}

func testLateRecordsKeepTimeOrder(t *testing.T, shards int) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(ctx, Options{Dir: dir, Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(ms, ns int) logs.Record {
		return rec(base.Add(time.Duration(ms)*time.Millisecond+time.Duration(ns)), "2001:db8::1")
	}
	batches := [][]logs.Record{
		{at(10, 0), at(10, 1), at(20, 0)},
		{at(10, 2), at(5, 0), at(5, 0), at(20, 5), at(15, 0), at(10, 3)},
		{at(30, 0), at(25, 0)}, // late, yet after the last batch
	}
	for _, b := range batches {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// Reopened with one shard asked for, the day keeps those it has.
	if s, err = New(ctx, Options{Dir: dir, Shards: 1}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := len(s.held()[0].shards); n != shards {
		t.Fatalf("reopened day has %d shards, want %d", n, shards)
	}
	if err := s.Write(ctx, []logs.Record{at(10, 4), at(1, 0), at(25, 0)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Search(ctx, nil, base, base.Add(time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	var ms []int
	for _, r := range got {
		ms = append(ms, int(r.Timestamp.Sub(base)/time.Millisecond))
	}
	if want := []int{30, 25, 25, 20, 20, 15, 10, 10, 10, 10, 10, 5, 5, 1}; !slices.Equal(ms, want) {
		t.Fatalf("milliseconds newest first %v, want %v", ms, want)
	}
	// Every record is in the FTS index once: one instance of "down" each.
	indexed := 0
	for _, sh := range s.held()[0].shards {
		conn, err := sh.db.Conn(ctx) // temp tables belong to a connection
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, records_text, instance)"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM temp.words WHERE term = 'down'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		indexed += n
	}
	if indexed != len(ms) {
		t.Fatalf("%d FTS entries for %d records", indexed, len(ms))
	}
	// The exact bounds hold inside a millisecond.
	counts, err := s.Count(ctx, nil, nil, base.Add(10*time.Millisecond+1), base.Add(10*time.Millisecond+3))
	if err != nil || len(counts) != 1 || counts[0].Count != 2 {
		t.Fatalf("count in [10ms+1ns, 10ms+3ns): %v, %v", counts, err)
	}
}

// Every shard's FTS index merges 16 segments at a time, in a partition
// made with FTS5's default too.
func TestIndexMergesSixteenSegments(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	automerge := func(p *partition) (v int) {
		t.Helper()
		if err := p.shards[0].db.QueryRowContext(ctx, "SELECT v FROM records_text_config WHERE k = 'automerge'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	p, err := openPartition(ctx, dir, 20000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := automerge(p); got != 16 {
		t.Errorf("automerge = %d, want 16", got)
	}
	if _, err := p.shards[0].db.ExecContext(ctx, "INSERT INTO records_text(records_text, rank) VALUES ('automerge', 4)"); err != nil {
		t.Fatal(err)
	}
	p.close()
	if p, err = openPartition(ctx, dir, 20000, 1); err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if got := automerge(p); got != 16 {
		t.Errorf("automerge after reopening = %d, want 16", got)
	}
}

// A shard whose writing connection is gone takes another one, rather than
// failing every batch after.
func TestWriterConnectionIsReplaced(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if err := s.Write(ctx, []logs.Record{rec(ts, "2001:db8::1")}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	for _, p := range s.parts {
		for _, sh := range p.shards {
			sh.writer.Close()
		}
	}
	s.mu.Unlock()
	if err := s.Write(ctx, []logs.Record{rec(ts.Add(time.Second), "2001:db8::2")}); err != nil {
		t.Fatalf("writing after the connection was closed: %v", err)
	}
	got, err := s.Count(ctx, nil, []string{"host.ip"}, ts, ts.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("counted %v, want both hosts", got)
	}
}
