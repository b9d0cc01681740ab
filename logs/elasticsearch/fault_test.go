package elasticsearch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// batch makes n records numbered from first, one millisecond apart.
func batch(first, n int) []logs.Record {
	out := make([]logs.Record, n)
	for i := range out {
		k := first + i
		out[i] = logs.Record{
			Timestamp: t0.Add(time.Duration(k) * time.Millisecond), HostIP: "192.0.2.7",
			Message: fmt.Sprintf("Interface Gi0/%d, changed state to down", k),
			Fields:  map[string]string{"event.code": "LINK-3-UPDOWN", "event.sequence": fmt.Sprint(k)},
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) count(q string) int64 {
	h.t.Helper()
	var n query.Node
	if q != "" {
		var err error
		if n, err = query.Parse(q); err != nil {
			h.t.Fatal(err)
		}
	}
	counts, err := h.store.Count(context.Background(), n, nil, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		h.t.Fatal(err)
	}
	var total int64
	for _, c := range counts {
		total += c.Count
	}
	return total
}

// sequences returns event.sequence of the server's documents in the order
// they were indexed.
func sequences(srv *estest.Server, target string) []string {
	var out []string
	for _, d := range srv.Docs(target) {
		if r, ok := d["kusanagi.record"].(map[string]any); ok {
			d = r
		}
		out = append(out, fmt.Sprint(d["event.sequence"]))
	}
	return out
}

func wantSequences(first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(first + i)
	}
	return out
}

// TestPartialBulkFailures: items answered 429 are retried, items the
// mapping refuses (a bad IP, an object/leaf clash, a date before 1970) are
// indexed in the fallback form and searchable, nothing is lost.
func TestPartialBulkFailures(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	var mu sync.Mutex
	rejected := map[string]bool{}
	srv.FailItems(func(id string, src map[string]any) *estest.ItemFault {
		mu.Lock()
		defer mu.Unlock()
		// Every third document is refused once as a busy node does.
		if seq, _ := src["event.sequence"].(string); seq != "" && seqNum(seq)%3 == 0 && !rejected[id] {
			rejected[id] = true
			return &estest.ItemFault{Status: 429, Type: "es_rejected_execution_exception", Reason: "rejected execution of primary operation [coordinating_and_primary_bytes=107374182, replica_bytes=0, all_bytes=107374182, primary_operation_bytes=1024, max_coordinating_and_primary_bytes=107374182]"}
		}
		return nil
	})
	h := start(t, Options{URLs: []string{srv.URL()}}, true)
	recs := batch(0, 30)
	recs[4].HostIP = "not-an-ip"
	recs[5].Fields["snmp.trap"] = "linkDown"
	recs[5].Fields["snmp.trap.oid"] = "1.3.6.1.6.3.1.1.5.3"
	recs[6].Timestamp = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
	if err := h.store.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Docs("logs-kusanagi-default")); got != 30 {
		t.Fatalf("%d documents indexed, want 30", got)
	}
	if n, _ := h.store.spool.Size(); n != 0 {
		t.Fatalf("spool holds %d bytes after a write that succeeded", n)
	}
	m := h.store.metrics
	if got := testutil.ToFloat64(m.failures.WithLabelValues("es_rejected_execution_exception")); got != 10 {
		t.Errorf("429 item failures = %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues("document_parsing_exception")); got != 3 {
		t.Errorf("mapping failures = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.fallbacks); got != 3 {
		t.Errorf("fallback records = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.indexed); got != 30 {
		t.Errorf("indexed records = %v, want 30", got)
	}
	if got := testutil.ToFloat64(m.retries.WithLabelValues("item")); got != 10 {
		t.Errorf("item retries = %v, want 10", got)
	}
	// The refused records are searchable by their text and round-trip whole,
	// with the refusal in tags and error.*.
	if n := h.count(`tags:kusanagi.index_error`); n != 2 { // the 1969 one is outside the window
		t.Errorf("%d fallback records in the window, want 2", n)
	}
	got, err := h.store.Search(context.Background(), query.Phrase{Field: "message", Text: "Gi0/5"}, t0.Add(-time.Hour), t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Fields["snmp.trap.oid"] != "1.3.6.1.6.3.1.1.5.3" || got[0].Fields["snmp.trap"] != "linkDown" ||
		got[0].Fields["tags"] != tagIndexError || !strings.Contains(got[0].Fields["error.message"], "snmp.trap") {
		t.Fatalf("fallback record: %+v", got)
	}
	old, err := h.store.Search(context.Background(), nil, recs[6].Timestamp.Add(-time.Second), recs[6].Timestamp.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 0 {
		t.Fatalf("a record before 1970 is kept at its ingestion time, not its own: %+v", old)
	}
}

func seqNum(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// TestWholeRequestRetries: bulk requests answered 429 and 503, or cut, are
// retried with backoff and the write succeeds without the spool.
func TestWholeRequestRetries(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	h := start(t, Options{URLs: []string{srv.URL()}}, true)
	var mu sync.Mutex
	faults := []estest.Fault{{Status: 429}, {Status: 503}, {Drop: true}}
	srv.FailRequests(func(r *http.Request) estest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasSuffix(r.URL.Path, "/_bulk") || len(faults) == 0 {
			return estest.Fault{}
		}
		f := faults[0]
		faults = faults[1:]
		return f
	})
	if err := h.store.Write(context.Background(), batch(0, 50)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(h.store.metrics.retries.WithLabelValues("request")); got != 3 {
		t.Errorf("request retries = %v, want 3", got)
	}
	if _, n := h.store.spool.Size(); n != 0 || testutil.ToFloat64(h.store.metrics.spooled) != 0 {
		t.Fatalf("spooled %d records though the retries succeeded", n)
	}
	if n := h.count(""); n != 50 {
		t.Fatalf("count %d, want 50", n)
	}
}

// TestOutageSpoolsAndReplaysInOrder: with the cluster down, Write spools
// and succeeds; once it is back, the spool is replayed in order and then
// deleted, with no record lost or duplicated.
func TestOutageSpoolsAndReplaysInOrder(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	h := start(t, Options{URLs: []string{srv.URL()}, Workers: 1, MaxRetries: 1, WriteAttempts: 2, SpoolSegmentBytes: 16 << 10}, true)
	ctx := context.Background()
	if err := h.store.Write(ctx, batch(0, 100)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for i := 1; i < 10; i++ {
		if err := h.store.Write(ctx, batch(i*100, 100)); err != nil {
			t.Fatalf("write %d during the outage: %v", i, err)
		}
	}
	bytes, records := h.store.spool.Size()
	if records != 900 || bytes == 0 || h.store.spool.Segments() < 2 {
		t.Fatalf("spool: %d records, %d bytes, %d segments; want 900 records in several segments", records, bytes, h.store.spool.Segments())
	}
	srv.Start()
	eventually(t, "the spool is replayed", func() bool {
		h.store.mu.Lock()
		defer h.store.mu.Unlock()
		return !h.store.spooling
	})
	if got := sequences(srv, "logs-kusanagi-default"); !slices.Equal(got, wantSequences(0, 1000)) {
		t.Fatalf("documents in the order indexed: %d of them, first differences: %v", len(got), firstDiff(got, wantSequences(0, 1000)))
	}
	if n := h.count(""); n != 1000 {
		t.Fatalf("count %d, want 1000", n)
	}
	segs, _ := filepath.Glob(filepath.Join(h.store.opts.SpoolDir, "*.seg"))
	if len(segs) != 0 {
		t.Fatalf("segments left after replay: %v", segs)
	}
	if got := testutil.ToFloat64(h.store.metrics.replayed); got != 900 {
		t.Fatalf("replayed %v, want 900", got)
	}
	// Writes go directly again.
	if err := h.store.Write(ctx, batch(1000, 10)); err != nil {
		t.Fatal(err)
	}
	if _, n := h.store.spool.Size(); n != 0 {
		t.Fatalf("spooled %d records with the cluster up", n)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %s, want %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

// TestSpoolFull: when the spool reaches max_bytes, Write refuses with
// spool.ErrFull and counts it; what was accepted is replayed.
func TestSpoolFull(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	srv.Stop()
	h := start(t, Options{URLs: []string{srv.URL()}, MaxRetries: 1, SpoolMaxBytes: 8 << 10}, false)
	ctx := context.Background()
	accepted := 0
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		if err = h.store.Write(ctx, batch(i*10, 10)); err == nil {
			accepted += 10
		}
	}
	if !errors.Is(err, spool.ErrFull) || !strings.Contains(err.Error(), "max_bytes 8192") {
		t.Fatalf("err = %v, want spool.ErrFull naming the bound", err)
	}
	if err := h.store.Write(ctx, batch(5000, 10)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("second refusal: %v", err)
	}
	if got := testutil.ToFloat64(h.store.metrics.spoolFull); got != 2 {
		t.Errorf("spool_full_total = %v, want 2", got)
	}
	srv.Start()
	<-h.store.Ready()
	eventually(t, "the spool is replayed", func() bool { return h.store.spool.Empty() })
	if n := h.count(""); n != int64(accepted) {
		t.Fatalf("count %d, want the %d accepted records", n, accepted)
	}
	if err := h.store.Write(ctx, batch(6000, 10)); err != nil {
		t.Fatalf("after the replay: %v", err)
	}
}

// TestRestartReplaysSpool: records spooled by one process are replayed by
// the next one, started on the same spool directory.
func TestRestartReplaysSpool(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	srv.Stop()
	dir := t.TempDir()
	h1 := start(t, Options{URLs: []string{srv.URL()}, SpoolDir: dir, MaxRetries: 1}, false)
	for i := range 5 {
		if err := h1.store.Write(context.Background(), batch(i*20, 20)); err != nil {
			t.Fatal(err)
		}
	}
	h1.stop()
	srv.Start()
	h2 := start(t, Options{URLs: []string{srv.URL()}, SpoolDir: dir, Workers: 1}, true)
	eventually(t, "the spool is replayed", func() bool { return h2.store.spool.Empty() })
	if got := sequences(srv, "logs-kusanagi-default"); !slices.Equal(got, wantSequences(0, 100)) {
		t.Fatalf("replayed documents: %s", firstDiff(got, wantSequences(0, 100)))
	}
}

// TestTornSpoolTail: a frame cut by a crash at the end of a segment is
// skipped (logged, counted) and every whole frame before it is replayed.
func TestTornSpoolTail(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	srv.Stop()
	dir := t.TempDir()
	h1 := start(t, Options{URLs: []string{srv.URL()}, SpoolDir: dir, MaxRetries: 1}, false)
	if err := h1.store.Write(context.Background(), batch(0, 10)); err != nil {
		t.Fatal(err)
	}
	h1.stop()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	// The crash: half of an eleventh frame reached the disk, its header
	// announcing 64 bytes of which 24 were written.
	torn := binary.LittleEndian.AppendUint32(nil, 64)
	torn = binary.LittleEndian.AppendUint32(torn, 0)
	torn = append(torn, make([]byte, 24)...)
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn)
	f.Close()
	srv.Start()
	h2 := start(t, Options{URLs: []string{srv.URL()}, SpoolDir: dir, Workers: 1}, true)
	eventually(t, "the spool is replayed", func() bool { return h2.store.spool.Empty() })
	if got := sequences(srv, "logs-kusanagi-default"); !slices.Equal(got, wantSequences(0, 10)) {
		t.Fatalf("replayed documents: %s", firstDiff(got, wantSequences(0, 10)))
	}
	if got := testutil.ToFloat64(h2.store.metrics.skipped); got != float64(len(torn)) {
		t.Fatalf("skipped bytes = %v, want %d", got, len(torn))
	}
}

// TestCountPagesGroups: more groups than one composite page are fetched
// page by page with after_key, each counted once.
func TestCountPagesGroups(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	h := start(t, Options{URLs: []string{srv.URL()}}, true)
	const hosts = 2*compositePage + 500
	recs := make([]logs.Record, 0, hosts+10)
	for i := range hosts {
		recs = append(recs, logs.Record{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), HostIP: fmt.Sprintf("2001:db8::%x", i+1), Message: "down"})
	}
	for i := range 10 {
		recs = append(recs, logs.Record{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), HostIP: "2001:db8::1", Message: "down"})
	}
	if err := h.store.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests("_search")
	counts, err := h.store.Count(context.Background(), query.Term{Field: "message", Value: "down"}, []string{"host.ip"}, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if pages := srv.Requests("_search") - before; pages != 3 {
		t.Errorf("%d requests for %d groups, want 3 pages of %d", pages, hosts, compositePage)
	}
	seen := map[string]int64{}
	for _, c := range counts {
		seen[c.Group["host.ip"]] += c.Count
	}
	if len(counts) != hosts || len(seen) != hosts || seen["2001:db8::1"] != 11 || seen[fmt.Sprintf("2001:db8::%x", hosts)] != 1 {
		t.Fatalf("%d groups (%d distinct), 2001:db8::1 counted %d", len(counts), len(seen), seen["2001:db8::1"])
	}
}

// TestMissingDataStreamRecreated: items answered index_not_found (the data
// stream deleted on a cluster that does not create indices on write) make
// the store put its template and data stream back, then succeed.
func TestMissingDataStreamRecreated(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	h := start(t, Options{URLs: []string{srv.URL()}}, true)
	var mu sync.Mutex
	first := true
	srv.FailItems(func(string, map[string]any) *estest.ItemFault {
		mu.Lock()
		defer mu.Unlock()
		if !first {
			return nil
		}
		return &estest.ItemFault{Status: 404, Type: "index_not_found_exception", Reason: "no such index [logs-kusanagi-default] and [require_data_stream] request flag is [true] and [logs-kusanagi-default] is not a data stream"}
	})
	installs := srv.Requests("_index_template")
	srv.FailRequests(func(r *http.Request) estest.Fault {
		if strings.HasPrefix(r.URL.Path, "/_index_template/") {
			mu.Lock()
			first = false
			mu.Unlock()
		}
		return estest.Fault{}
	})
	if err := h.store.Write(context.Background(), batch(0, 5)); err != nil {
		t.Fatal(err)
	}
	if srv.Requests("_index_template") != installs+1 {
		t.Fatalf("template put %d times after the 404s, want once", srv.Requests("_index_template")-installs)
	}
	if n := h.count(""); n != 5 {
		t.Fatalf("count %d, want 5", n)
	}
	if _, n := h.store.spool.Size(); n != 0 {
		t.Fatalf("%d records spooled", n)
	}
}

// TestOutageSoak: writers keep writing while the cluster goes down and up
// and refuses some items; every accepted record ends up indexed exactly
// once.
func TestOutageSoak(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	var mu sync.Mutex
	n := 0
	srv.FailItems(func(string, map[string]any) *estest.ItemFault {
		mu.Lock()
		defer mu.Unlock()
		if n++; n%10 == 0 {
			return &estest.ItemFault{Status: 429, Type: "es_rejected_execution_exception", Reason: "rejected execution"}
		}
		return nil
	})
	h := start(t, Options{URLs: []string{srv.URL()}, MaxRetries: 1, WriteAttempts: 2, SpoolSegmentBytes: 8 << 10}, true)
	const writers, batches, size = 4, 30, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				if err := h.store.Write(context.Background(), batch((w*batches+b)*size, size)); err != nil {
					t.Errorf("write: %v", err)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	for range 4 {
		time.Sleep(30 * time.Millisecond)
		srv.Stop()
		time.Sleep(30 * time.Millisecond)
		srv.Start()
	}
	wg.Wait()
	eventually(t, "the spool is replayed", func() bool {
		h.store.mu.Lock()
		defer h.store.mu.Unlock()
		return !h.store.spooling
	})
	got := sequences(srv, "logs-kusanagi-default")
	seen := map[string]int{}
	for _, s := range got {
		seen[s]++
	}
	for s, c := range seen {
		if c != 1 {
			t.Errorf("record %s indexed %d times", s, c)
		}
	}
	if len(seen) != writers*batches*size {
		t.Fatalf("%d distinct records indexed, want %d", len(seen), writers*batches*size)
	}
	if testutil.ToFloat64(h.store.metrics.spooled) == 0 {
		t.Fatal("nothing was spooled: the outages did not happen during writes")
	}
}
