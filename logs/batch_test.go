package logs

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBatchCopiesWhatItEncodes: a receiver parses every line into one
// Record whose strings point into its read buffer; the batch keeps its
// own copy, so overwriting the buffer after Add and after the hand-over
// changes nothing stored.
func TestBatchCopiesWhatItEncodes(t *testing.T) {
	store := &memStore{}
	w, _ := startWriter(t, WriterOptions{Store: store, Name: "syslog", SpoolDir: t.TempDir(), FlushInterval: 10 * time.Millisecond})
	const n = 3000 // more than one chunk
	var b Batch
	buf := make([]byte, 64)
	scratch := Record{Fields: map[string]string{}}
	for i := range n {
		want := record(i)
		line := buf[:copy(buf, want.Original)]
		text := unsafe.String(&line[0], len(line))
		clear(scratch.Fields)
		scratch = Record{Timestamp: want.Timestamp, Received: want.Received, Original: text, Message: text[len("<187>"):], HostIP: want.HostIP, Fields: scratch.Fields}
		for k, v := range want.Fields {
			scratch.Fields[k] = v
		}
		b.Add(&scratch)
		for j := range buf {
			buf[j] = 'x'
		}
		if i%700 == 699 || i == n-1 {
			if err := w.AddBatchWait(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			if b.Len() != 0 || b.Bytes() != 0 {
				t.Fatalf("after the hand-over the batch holds %d records, %d bytes", b.Len(), b.Bytes())
			}
		}
	}
	eventually(t, "stored", func() bool { return store.len() == n })
	inOrder(t, store.records, n)
}

// TestAddBatchWaitTakesWhatFits: with the store stalled and the spool
// nearly full, AddBatchWait takes the records that fit, waits with the
// rest in the batch (counting them once as finding the spool full), and
// gives them back when its context ends; once the store takes records
// again, a second call hands over the rest, in order.
func TestAddBatchWaitTakesWhatFits(t *testing.T) {
	store, w, b, n := overfullBatch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := w.AddBatchWait(ctx, b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AddBatchWait with the spool full: %v", err)
	}
	taken := n - b.Len()
	if taken == 0 || b.Len() == 0 {
		t.Fatalf("%d of %d records taken with a spool of %d bytes for %d", taken, n, spoolBound, 2*spoolBound)
	}
	if f := testutil.ToFloat64(w.full); f != float64(b.Len()) {
		t.Fatalf("spool_full_total = %v, want the %d records that waited", f, b.Len())
	}
	close(store.gate)
	if err := w.AddBatchWait(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "everything is stored", func() bool { return store.len() == n })
	inOrder(t, store.records, n)
	if got := store.records[taken].Fields["seq"]; got != strconv.Itoa(taken) {
		t.Fatalf("the first record that waited is %s, want %d", got, taken)
	}
}

// TestAddBatchDropsWhatDoesNotFit: with the store stalled, AddBatch takes
// the records that fit in the spool, drops and counts the rest, and
// empties the batch; what it took is stored, in order, once the store
// takes records again.
func TestAddBatchDropsWhatDoesNotFit(t *testing.T) {
	store, w, b, n := overfullBatch(t)
	w.AddBatch(b)
	if b.Len() != 0 || b.Bytes() != 0 {
		t.Fatalf("after AddBatch the batch holds %d records, %d bytes", b.Len(), b.Bytes())
	}
	dropped := int(testutil.ToFloat64(w.dropped))
	if dropped == 0 || dropped == n {
		t.Fatalf("%d of %d records dropped with a spool of %d bytes for %d", dropped, n, spoolBound, 2*spoolBound)
	}
	if f := testutil.ToFloat64(w.full); f != float64(dropped) {
		t.Fatalf("spool_full_total = %v, want the %d records dropped", f, dropped)
	}
	close(store.gate)
	eventually(t, "what was taken is stored", func() bool { return store.len() == n-dropped })
	inOrder(t, store.records, n-dropped)
}

// spoolBound is the spool's size in the tests of a batch larger than it.
const spoolBound = 64 << 10

// overfullBatch starts a writer whose store takes nothing until
// store.gate is closed, with a spool of spoolBound bytes, and a batch of
// the first n records that takes twice that.
func overfullBatch(t *testing.T) (store *memStore, w *Writer, b *Batch, n int) {
	store = &memStore{gate: make(chan struct{})}
	w, _ = startWriter(t, WriterOptions{Store: store, Name: "syslog", SpoolDir: t.TempDir(), SpoolMaxBytes: spoolBound, SpoolSegmentBytes: 8 << 10, BatchSize: 100, FlushInterval: 10 * time.Millisecond})
	b = &Batch{}
	for ; b.Bytes() < 2*spoolBound; n++ {
		r := record(n)
		b.Add(&r)
	}
	return store, w, b, n
}
