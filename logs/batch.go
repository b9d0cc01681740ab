package logs

import (
	"context"

	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

// batchChunkBytes is the size of the buffers a Batch encodes records
// into: one allocation for a few hundred syslog lines rather than one
// for each.
const batchChunkBytes = 64 << 10

// Batch is records encoded for the spool and handed to a Writer
// together: a stream receiver takes one lock and wakes the committer once
// per read from its socket rather than once per line. Add copies what it
// encodes, so the record it is given may point into a buffer the caller
// reuses. A Batch is not safe for concurrent use.
type Batch struct {
	// chunk holds the encoded records; entries are slices of it (and of
	// chunks before it), which the spool's pending list keeps after the
	// batch was handed over, so only chunk's unused tail is written to.
	chunk   []byte
	entries []spool.Entry
	bytes   int64
}

// Add encodes r into the batch, with fields after r.Fields: their names
// must not be in r.Fields.
func (b *Batch) Add(r *Record, fields ...Field) {
	// A guess rather than the size: the chunk takes what does not fit by
	// growing, and the records encoded before stay where they are.
	guess := 32 + len(r.Message) + len(r.Original) + len(r.HostIP) + len(r.HostName) + 64*(len(r.Fields)+len(fields))
	if cap(b.chunk)-len(b.chunk) < guess {
		b.chunk = make([]byte, 0, max(batchChunkBytes, guess))
	}
	start := len(b.chunk)
	b.chunk = encodeRecord(b.chunk, r, fields)
	e := spool.Entry{Data: b.chunk[start:len(b.chunk):len(b.chunk)]}
	b.entries = append(b.entries, e)
	b.bytes += e.Size()
}

// Len is the number of records in the batch.
func (b *Batch) Len() int { return len(b.entries) }

// Bytes is what the batch's records take in the spool.
func (b *Batch) Bytes() int64 { return b.bytes }

// Records decodes the batch's records, for a consumer other than a Writer.
func (b *Batch) Records() ([]Record, error) {
	out := make([]Record, 0, len(b.entries))
	for _, e := range b.entries {
		r, err := decodeRecord(e.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// drop removes the first n records, which were handed over.
func (b *Batch) drop(n int) {
	for _, e := range b.entries[:n] {
		b.bytes -= e.Size()
	}
	rest := copy(b.entries, b.entries[n:])
	clear(b.entries[rest:])
	b.entries = b.entries[:rest]
}

// Reset empties the batch, for a consumer other than a Writer once it
// has taken the records.
func (b *Batch) Reset() {
	clear(b.entries)
	b.entries = b.entries[:0]
	b.bytes = 0
	// The chunk's encoded bytes may still be referenced; what follows goes
	// after them.
	b.chunk = b.chunk[len(b.chunk):]
}

// AddBatchWait accepts every record of b, in order, as AddWait does one by
// one, and empties b. When it returns an error, the records it did not
// accept are left in b.
func (w *Writer) AddBatchWait(ctx context.Context, b *Batch) error {
	counted := false
	w.mu.Lock()
	for {
		if w.closed {
			w.mu.Unlock()
			return ErrWriterStopped
		}
		n, wait, full := w.admitLocked(b.entries)
		w.mu.Unlock()
		if wait == nil {
			b.Reset()
			return nil
		}
		b.drop(n)
		if full && !counted {
			counted = true
			w.full.Add(float64(len(b.entries)))
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
}
