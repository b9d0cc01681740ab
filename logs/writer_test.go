package logs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/kusanagi-dev/kusanagi/logs/query"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore keeps what it is given; while gate is set, Write waits on it,
// and a Write may take delay, like an indexer slower than the receivers.
type memStore struct {
	mu      sync.Mutex
	records []Record
	gate    chan struct{}
	delay   time.Duration
	refuse  bool
}

func (s *memStore) Write(ctx context.Context, rs []Record) error {
	s.mu.Lock()
	gate, delay, refuse := s.gate, s.delay, s.refuse
	s.mu.Unlock()
	if refuse {
		return errors.New("refused")
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rs...)
	return nil
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

func (s *memStore) Search(context.Context, query.Node, time.Time, time.Time, int) ([]Record, error) {
	return nil, nil
}

func (s *memStore) Count(context.Context, query.Node, []string, time.Time, time.Time) ([]GroupCount, error) {
	return nil, nil
}
func (s *memStore) Close() error { return nil }

// record i arrived at 10:00 and i nanoseconds, from a clock 13 days behind.
func record(i int) Record {
	received := time.Date(2026, 11, 25, 10, 0, 0, i, time.UTC)
	return Record{
		Received:  received,
		Timestamp: received.Add(-13 * 24 * time.Hour),
		Message:   "line " + strconv.Itoa(i), Original: "<187>line " + strconv.Itoa(i), HostIP: "2001:db8::1",
		Fields: map[string]string{"seq": strconv.Itoa(i), "event.code": "LINK-3-UPDOWN"},
	}
}

// startWriter runs a writer until the test ends (or stop is called).
func startWriter(t *testing.T, o WriterOptions) (w *Writer, stop func()) {
	t.Helper()
	w, err := NewWriter(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
	}
}

func inOrder(t *testing.T, got []Record, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d records stored, want %d", len(got), n)
	}
	for i, r := range got {
		if want := record(i); !reflect.DeepEqual(r, want) {
			t.Fatalf("record %d: got %+v, want %+v", i, r, want)
		}
	}
}

// TestWriterBurstBeyondTheStoreIsStored: datagram records accepted much
// faster than the store writes them are all stored, in order, when they
// fit in the spool; nothing is dropped, and the spool ends empty.
func TestWriterBurstBeyondTheStoreIsStored(t *testing.T) {
	const n = 50000
	store := &memStore{delay: 20 * time.Millisecond} // 1000 records per 20ms: 50k/s
	w, _ := startWriter(t, WriterOptions{Store: store, Name: "syslog", SpoolDir: t.TempDir(), BatchSize: 1000, FlushInterval: 10 * time.Millisecond})
	start := time.Now()
	for i := range n {
		w.Add(record(i))
	}
	accepted := time.Since(start)
	eventually(t, "the burst is stored", func() bool { return store.len() == n })
	t.Logf("accepted %d records in %v, stored in %v", n, accepted, time.Since(start))
	inOrder(t, store.records, n)
	if d := testutil.ToFloat64(w.dropped); d != 0 {
		t.Fatalf("%v dropped", d)
	}
	if s := testutil.ToFloat64(w.written); s != n {
		t.Fatalf("written_total = %v, want %d", s, n)
	}
	eventually(t, "the spool is emptied", func() bool { return w.spool.Empty() })
}

// TestWriterSpoolFull: with the store stalled, Add drops and counts once
// the spool reaches its bound, AddWait waits; when the store takes
// records again the waiting record and everything accepted are stored.
func TestWriterSpoolFull(t *testing.T) {
	store := &memStore{gate: make(chan struct{})}
	const max = 64 << 10
	w, _ := startWriter(t, WriterOptions{Store: store, Name: "syslog", SpoolDir: t.TempDir(), SpoolMaxBytes: max, SpoolSegmentBytes: 8 << 10, BatchSize: 100, FlushInterval: 10 * time.Millisecond})
	i := 0
	for ; testutil.ToFloat64(w.full) == 0; i++ {
		w.Add(record(i))
		if i > 10000 {
			t.Fatal("the spool never filled")
		}
	}
	accepted := i - 1
	if d := testutil.ToFloat64(w.dropped); d != 1 {
		t.Fatalf("dropped_total = %v after the first record found the spool full, want 1", d)
	}
	eventually(t, "the accepted records are spooled", func() bool { return testutil.ToFloat64(w.accepted) == float64(accepted) })
	if b, _ := w.spool.Size(); b > max {
		t.Fatalf("spool holds %d bytes, bound %d", b, max)
	}
	// A stream record waits for room rather than being dropped.
	waited := make(chan error, 1)
	go func() { waited <- w.AddWait(context.Background(), record(i)) }()
	select {
	case err := <-waited:
		t.Fatalf("AddWait returned (%v) with the spool full", err)
	case <-time.After(300 * time.Millisecond):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := w.AddWait(ctx, record(i)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AddWait with an ending context: %v", err)
	}
	cancel()
	if f := testutil.ToFloat64(w.full); f != 3 {
		t.Fatalf("spool_full_total = %v, want 3 (one drop, two waits)", f)
	}
	close(store.gate)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	eventually(t, "everything accepted is stored", func() bool { return store.len() == accepted+1 })
	got := store.records
	inOrder(t, got[:accepted], accepted)
	if got[accepted].Fields["seq"] != strconv.Itoa(i) {
		t.Fatalf("the record that waited: %+v", got[accepted])
	}
}

// TestWriterRestartReplaysSpool: records accepted while the store refused
// are in the spool when the writer stops; the next writer on the same
// directory writes them first, then new ones, in order.
func TestWriterRestartReplaysSpool(t *testing.T) {
	dir := t.TempDir()
	down := &memStore{refuse: true}
	w1, stop := startWriter(t, WriterOptions{Store: down, Name: "traps", SpoolDir: dir, FlushInterval: 10 * time.Millisecond})
	for i := range 3000 {
		if err := w1.AddWait(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "spooled", func() bool { return testutil.ToFloat64(w1.accepted) == 3000 })
	stop()
	if err := w1.AddWait(context.Background(), record(0)); !errors.Is(err, ErrWriterStopped) {
		t.Fatalf("AddWait after Run ended: %v", err)
	}

	up := &memStore{}
	w2, _ := startWriter(t, WriterOptions{Store: up, Name: "traps", SpoolDir: dir, FlushInterval: 10 * time.Millisecond})
	if _, n := w2.spool.Size(); n != 3000 {
		t.Fatalf("the new writer found %d records in the spool, want 3000", n)
	}
	for i := 3000; i < 3100; i++ {
		w2.Add(record(i))
	}
	eventually(t, "replayed and new records are stored", func() bool { return up.len() == 3100 })
	inOrder(t, up.records, 3100)
}

// TestWriterConcurrentReceivers: many receivers adding at once lose
// nothing and keep each one's order (run with -race).
func TestWriterConcurrentReceivers(t *testing.T) {
	store := &memStore{}
	w, _ := startWriter(t, WriterOptions{Store: store, Name: "syslog", SpoolDir: t.TempDir(), PendingBytes: 4 << 10, FlushInterval: 10 * time.Millisecond})
	const senders, each = 8, 2000
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				r := record(i)
				r.HostName = fmt.Sprint(s)
				if s%2 == 0 {
					w.Add(r)
				} else if err := w.AddWait(context.Background(), r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	eventually(t, "stored", func() bool { return store.len() == senders*each })
	next := map[string]int{}
	for _, r := range store.records {
		if r.Fields["seq"] != strconv.Itoa(next[r.HostName]) {
			t.Fatalf("sender %s: record %s after %d", r.HostName, r.Fields["seq"], next[r.HostName]-1)
		}
		next[r.HostName]++
	}
}

// FuzzRecordCodec: decoding spooled bytes never panics, and a record
// that decodes encodes to bytes that decode to the same record (fields are
// written in the map's order, so the bytes may differ), also with some of
// its fields given as a list.
func FuzzRecordCodec(f *testing.F) {
	r := record(7)
	f.Add(encodeRecord(nil, &r, nil))
	f.Add(encodeRecord(nil, &Record{}, nil))
	f.Add([]byte{codecVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{codecVersionV1, 0x80, 0xa0, 0xc9, 0x8e, 0x0d, 0x07, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := decodeRecord(encodeRecord(nil, &r, nil))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%x decodes to %+v, which round-trips to %+v (%v)", b, r, again, err)
		}
		// The same fields, some in the map and the rest in a list.
		split := r
		split.Fields = nil
		var list []Field
		for k, v := range r.Fields {
			if len(list) < len(r.Fields)/2 {
				list = append(list, Field{Name: k, Value: v})
				continue
			}
			if split.Fields == nil {
				split.Fields = map[string]string{}
			}
			split.Fields[k] = v
		}
		again, err = decodeRecord(encodeRecord(nil, &split, list))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%+v with %d fields in a list round-trips to %+v (%v)", r, len(list), again, err)
		}
	})
}

// TestSpooledRecordsOfVersion1: a spool written before records had an
// arrival time is read, each record arriving when it was stamped.
func TestSpooledRecordsOfVersion1(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 7, time.UTC)
	b := []byte{codecVersionV1}
	b = binary.AppendVarint(b, ts.Unix())
	b = binary.AppendUvarint(b, uint64(ts.Nanosecond()))
	for _, s := range []string{"changed state to down", "<187>changed state to down", "2001:db8::1", "r1"} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, 1)
	b = appendString(appendString(b, "event.code"), "LINK-3-UPDOWN")
	got, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Timestamp: ts, Received: ts, Message: "changed state to down", Original: "<187>changed state to down",
		HostIP: "2001:db8::1", HostName: "r1", Fields: map[string]string{"event.code": "LINK-3-UPDOWN"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// BenchmarkWriterAdd: records accepted per second by one receiver into
// the spool (group commit, fsync), with a store that takes everything at
// once: the writer's own cost, apart from indexing.
func BenchmarkWriterAdd(b *testing.B) {
	store := &memStore{}
	w, err := NewWriter(WriterOptions{Store: discard{store}, Name: "syslog", SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r := record(1)
	r.Message = "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down"
	r.Original = "<187>1 2026-11-25T10:00:00.123Z core1 ios - LINK - " + r.Message
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		w.Add(r)
	}
	for testutil.ToFloat64(w.accepted)+testutil.ToFloat64(w.dropped) < float64(b.N) {
		time.Sleep(time.Millisecond)
	}
	// Until every record is in the spool, not only handed over.
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "spooled/s")
	cancel()
	<-done
}

// discard is a store that takes records and keeps none.
type discard struct{ *memStore }

func (discard) Write(context.Context, []Record) error { return nil }

// TestOnlyTheShortestVarintDecodes: what AppendUvarint and AppendVarint
// write is canonical; the same value padded with a byte that adds nothing
// decodes to the same number and is not.
func TestOnlyTheShortestVarintDecodes(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		for _, enc := range [][]byte{binary.AppendUvarint(nil, v), binary.AppendVarint(nil, int64(v))} {
			if !canonical(enc, len(enc)) {
				t.Errorf("%x, as Append writes it, is not canonical", enc)
			}
			padded := append(append([]byte(nil), enc...), 0)
			padded[len(enc)-1] |= 0x80
			if len(padded) > binary.MaxVarintLen64 {
				continue // too long to decode at all
			}
			if got, k := binary.Uvarint(padded); k != len(padded) || canonical(padded, k) {
				t.Errorf("%x (%d, %d bytes) is taken as canonical", padded, got, k)
			}
		}
	}
}
