package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	Store Store
	// Name labels the writer's metrics ("traps", "syslog").
	Name string
	// SpoolDir is where accepted records wait for the store; required.
	// SpoolMaxBytes bounds it (default 1 GiB): beyond it Add and AddBatch
	// drop, AddWait and AddBatchWait wait. SpoolSegmentBytes is the size
	// of one spool file (default 2 MiB): what the reader holds in memory,
	// and what a crash may write to the store twice (see Writer).
	SpoolDir          string
	SpoolMaxBytes     int64
	SpoolSegmentBytes int64
	// CommitInterval is the least time between two appends to the spool
	// (default 2ms); see Writer.
	CommitInterval time.Duration
	// PendingBytes bounds the records accepted and not yet appended to the
	// spool (default 4 MiB): receivers wait for the spool beyond it.
	PendingBytes int64
	// BatchSize is the most records handed to the store at once (default
	// 5000); FlushInterval is how long a record that arrived alone waits
	// before it is handed on (default 200ms).
	BatchSize     int
	FlushInterval time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Writer stands between the receivers and the log store: it accepts
// records at the rate the receivers parse them, keeps them in a disk spool,
// and hands them to the store, in order, at the rate the store indexes.
//
// Durability: a record is accepted when Add, AddBatch, AddWait or
// AddBatchWait returns; it is written and synced to the spool by a group
// commit shortly after (at most CommitInterval plus one sync later), with
// every other record accepted meanwhile in one write and one sync. Receivers
// never wait for a sync of their own, so accepting is not serialised on the
// disk, and a kill -9 loses only the records of the commit in progress:
// those the receiver took in the last few milliseconds. Waiting for the sync
// in AddWait would close that window for TCP, but a syslog sender has no
// acknowledgement to wait for (RFC 6587 has none), so it would cost
// throughput without telling the sender anything. A smaller CommitInterval
// narrows the window and costs more syncs per second; a larger one the other
// way round. Segments are deleted only once the store took every record in
// them, so after a crash the records of the segment being written to the
// store are written again: delivery is at least once.
//
// Memory is bounded by PendingBytes twice (the records being accepted and
// the commit in progress) and one segment being read, besides what each
// receiver holds in a Batch before handing it over.
type Writer struct {
	opts   WriterOptions
	logger *slog.Logger
	spool  *spool.Spool

	mu sync.Mutex
	// pending are accepted records not yet handed to the committer;
	// committing are those being appended now. Both count against the
	// spool's bound before they are in it.
	pending         []spool.Entry
	pendingBytes    int64
	committingBytes int64
	spoolBytes      int64         // the spool's size as of the last append or removal
	room            chan struct{} // closed and replaced when room is made
	failing         bool          // the last append to the spool failed
	closed          bool          // Run has stopped accepting

	commit  chan struct{} // records are pending
	spooled chan struct{} // records were appended to the spool

	written   prometheus.Counter
	dropped   prometheus.Counter
	errors    prometheus.Counter
	full      prometheus.Counter
	accepted  prometheus.Counter
	corrupted prometheus.Counter
}

// ErrWriterStopped is returned by AddWait and AddBatchWait once the
// writer's Run has ended.
var ErrWriterStopped = errors.New("the log writer has stopped")

// NewWriter validates o and opens the spool, counting what an earlier run
// left in it; Run hands that to the store first.
func NewWriter(o WriterOptions) (*Writer, error) {
	if o.Store == nil || o.Name == "" {
		return nil, errors.New("logs writer: Store and Name are required")
	}
	if o.SpoolDir == "" {
		return nil, errors.New("logs writer: SpoolDir is required")
	}
	if o.SpoolMaxBytes < 0 || o.SpoolSegmentBytes < 0 || o.PendingBytes < 0 || o.BatchSize < 0 || o.CommitInterval < 0 || o.FlushInterval < 0 {
		return nil, errors.New("logs writer: sizes and intervals must not be negative")
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.SpoolMaxBytes, 1<<30)
	def(&o.SpoolSegmentBytes, 2<<20)
	def(&o.PendingBytes, 4<<20)
	if o.SpoolSegmentBytes > o.SpoolMaxBytes {
		o.SpoolSegmentBytes = o.SpoolMaxBytes
	}
	if o.BatchSize == 0 {
		o.BatchSize = 5000
	}
	if o.CommitInterval == 0 {
		o.CommitInterval = 2 * time.Millisecond
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	w := &Writer{
		opts:    o,
		logger:  o.Logger.With("component", "logs", "source", o.Name),
		room:    make(chan struct{}),
		commit:  make(chan struct{}, 1),
		spooled: make(chan struct{}, 1),
	}
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"source": o.Name}, o.Registerer))
	w.written = f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_records_written_total", Help: "Records written to the log store."})
	w.dropped = f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_records_dropped_total", Help: "Records dropped: the spool was full (datagram receivers) or the writer had stopped, or a spooled record was corrupt."})
	w.errors = f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_write_errors_total", Help: "Batches the store refused (retried)."})
	w.full = f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_spool_full_total", Help: "Records that found the spool full: dropped (datagram receivers) or waited for (stream receivers)."})
	w.accepted = f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_records_spooled_total", Help: "Records appended and synced to the spool."})
	w.corrupted = f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_spool_skipped_bytes_total", Help: "Bytes of torn or corrupt spool frames skipped when opening the spool."})
	sp, err := spool.Open(spool.Options{
		Dir: o.SpoolDir, MaxBytes: o.SpoolMaxBytes, SegmentBytes: o.SpoolSegmentBytes, Logger: w.logger,
		Skipped: func(n int64) { w.corrupted.Add(float64(n)) },
	})
	if err != nil {
		return nil, fmt.Errorf("cannot open the %s spool: %w", o.Name, err)
	}
	w.spool = sp
	w.spoolBytes, _ = sp.Size()
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "kusanagi_logs_spool_bytes", Help: "Bytes in the spool, accepted and waiting for the log store."}, func() float64 {
		b, _ := sp.Size()
		return float64(b)
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "kusanagi_logs_spool_records", Help: "Records in the spool, accepted and waiting for the log store."}, func() float64 {
		_, n := sp.Size()
		return float64(n)
	})
	if b, n := sp.Size(); n > 0 {
		w.logger.Info("spool holds records accepted by an earlier run; they go to the store first", "records", n, "bytes", b, "dir", o.SpoolDir)
	}
	return w, nil
}

// segmentSlack is kept free for the header of a new segment, so that what
// was admitted always fits when it is appended.
const segmentSlack = 64

// admitLocked queues encoded records for the spool, in order, as many as
// fit: it returns how many, and when not all of them, the channel to wait
// on before trying again and whether the reason is a full spool (rather
// than a full pending buffer).
func (w *Writer) admitLocked(es []spool.Entry) (n int, wait chan struct{}, full bool) {
	first := len(w.pending) == 0
	for _, e := range es {
		need := e.Size()
		if w.spoolBytes+w.committingBytes+w.pendingBytes+need+segmentSlack > w.opts.SpoolMaxBytes {
			wait, full = w.room, true
			break
		}
		if w.pendingBytes > 0 && w.pendingBytes+need > w.opts.PendingBytes {
			wait = w.room
			break
		}
		w.pending = append(w.pending, e)
		w.pendingBytes += need
		n++
	}
	if first && n > 0 {
		select {
		case w.commit <- struct{}{}:
		default:
		}
	}
	return n, wait, full
}

// makeRoomLocked wakes everyone waiting for room.
func (w *Writer) makeRoomLocked() {
	close(w.room)
	w.room = make(chan struct{})
}

// Add accepts a record; when the spool is full (the store has fallen
// behind by SpoolMaxBytes), or the spool cannot be written, it is dropped
// and counted rather than stalling a datagram receiver. It waits only
// while the commit in progress holds PendingBytes, a few milliseconds.
func (w *Writer) Add(r Record) {
	w.addOrDrop([]spool.Entry{{Data: encodeRecord(make([]byte, 0, encodedSize(&r)), &r, nil)}})
}

// AddBatch is Add for every record of b, in order, and empties b.
func (w *Writer) AddBatch(b *Batch) {
	w.addOrDrop(b.entries)
	b.Reset()
}

func (w *Writer) addOrDrop(es []spool.Entry) {
	w.mu.Lock()
	for {
		if w.closed || w.failing {
			w.mu.Unlock()
			w.dropped.Add(float64(len(es)))
			return
		}
		n, wait, full := w.admitLocked(es)
		es = es[n:]
		if wait == nil {
			w.mu.Unlock()
			return
		}
		if full {
			w.mu.Unlock()
			w.full.Add(float64(len(es)))
			w.dropped.Add(float64(len(es)))
			return
		}
		w.mu.Unlock()
		<-wait
		w.mu.Lock()
	}
}

// AddWait accepts a record, waiting while the spool is full: stream
// receivers (TCP, TLS) push back on their senders instead of dropping.
// AddBatchWait does the same for many records at once.
func (w *Writer) AddWait(ctx context.Context, r Record) error {
	e := spool.Entry{Data: encodeRecord(make([]byte, 0, encodedSize(&r)), &r, nil)}
	b := Batch{entries: []spool.Entry{e}, bytes: e.Size()}
	return w.AddBatchWait(ctx, &b)
}

// Run hands the spool to the store until ctx ends: first what an earlier
// run left, then what is accepted. When ctx ends it stops accepting,
// appends what it accepted to the spool, and gives the store a few seconds
// to take the rest; whatever it does not take stays in the spool for the
// next start.
func (w *Writer) Run(ctx context.Context) error {
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		w.commitLoop(ctx)
	}()
	w.readLoop(ctx)
	<-committed
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	w.readLoop(drain)
	if b, n := w.spool.Size(); n > 0 {
		w.logger.Info("stopping with records in the spool; they are written at the next start", "records", n, "bytes", b)
	}
	return w.spool.Close()
}

// commitLoop appends pending records to the spool, all that arrived since
// the last append at once, until ctx ends; then it appends what is left
// and closes the writer.
func (w *Writer) commitLoop(ctx context.Context) {
	var spare []spool.Entry
	last := time.Time{}
	for {
		select {
		case <-w.commit:
		case <-ctx.Done():
			w.mu.Lock()
			w.closed = true
			w.makeRoomLocked()
			w.mu.Unlock()
			// What receivers queued before closed was set is appended
			// here; with ctx ended, a full spool does not hold Run up.
			w.commitOnce(ctx, spare)
			return
		}
		if wait := w.opts.CommitInterval - time.Since(last); wait > 0 {
			// Records keep arriving meanwhile and go into this commit.
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		last = time.Now()
		spare = w.commitOnce(ctx, spare)
	}
}

// commitOnce appends the pending records, retrying while the spool is full
// or failing; it returns a slice to reuse.
func (w *Writer) commitOnce(ctx context.Context, spare []spool.Entry) []spool.Entry {
	w.mu.Lock()
	batch, bytes := w.pending, w.pendingBytes
	w.pending, w.pendingBytes = spare[:0], 0
	w.committingBytes = bytes
	if len(batch) > 0 {
		w.makeRoomLocked()
	}
	w.mu.Unlock()
	if len(batch) == 0 {
		return batch
	}
	for attempt := 0; ; attempt++ {
		err := w.spool.Append(batch)
		if err == nil {
			break
		}
		full := errors.Is(err, spool.ErrFull)
		if !full {
			w.errors.Inc()
			w.logger.Error("cannot append to the spool; datagram records are dropped until it works again", "records", len(batch), "err", err)
		}
		w.mu.Lock()
		w.failing = !full
		room := w.room
		w.mu.Unlock()
		if ctx.Err() != nil && attempt >= 2 {
			// Stopping, and the reader that would make room has stopped.
			w.dropped.Add(float64(len(batch)))
			w.logger.Error("stopping: records accepted but not spooled are lost", "records", len(batch), "err", err)
			break
		}
		select {
		case <-room:
		case <-time.After(time.Second):
		}
	}
	w.mu.Lock()
	w.failing = false
	w.committingBytes = 0
	w.spoolBytes, _ = w.spool.Size()
	w.mu.Unlock()
	w.accepted.Add(float64(len(batch)))
	select {
	case w.spooled <- struct{}{}:
	default:
	}
	clear(batch)
	return batch
}

// readLoop writes the spool to the store, oldest segment first, deleting
// each once the store took all its records, until ctx ends or, for the
// drain at shutdown, the spool is empty.
func (w *Writer) readLoop(ctx context.Context) {
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	minRecords := int64(w.opts.BatchSize)
	for ctx.Err() == nil {
		sg, err := w.spool.OldestWith(minRecords)
		if err == nil && sg == nil {
			select {
			case <-w.spooled:
				continue
			case <-tick.C:
				// A record that arrived alone waits no longer.
				sg, err = w.spool.OldestWith(1)
			case <-ctx.Done():
				return
			}
			if err == nil && sg == nil {
				if w.closedAndEmpty() {
					return
				}
				continue
			}
		}
		if err != nil {
			w.logger.Error("cannot read the spool", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if !w.writeSegment(ctx, sg) {
			return
		}
	}
}

func (w *Writer) closedAndEmpty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed && w.spool.Empty()
}

// writeSegment writes one segment's records to the store in batches and
// deletes it; false when ctx ended first (the segment stays).
func (w *Writer) writeSegment(ctx context.Context, sg *spool.Segment) bool {
	entries, _, err := spool.ReadSegment(sg.Path())
	if err != nil {
		w.logger.Error("cannot read a spool segment", "file", sg.Path(), "err", err)
		sleep(ctx, time.Second)
		return ctx.Err() == nil
	}
	batch := make([]Record, 0, min(len(entries), w.opts.BatchSize))
	for i, e := range entries {
		r, err := decodeRecord(e.Data)
		if err != nil {
			w.dropped.Inc()
			w.logger.Error("skipping a corrupt record in the spool", "file", sg.Path(), "record", i)
		} else {
			batch = append(batch, r)
		}
		if len(batch) == w.opts.BatchSize || i == len(entries)-1 {
			if !w.write(ctx, batch) {
				return false
			}
			batch = batch[:0]
		}
		entries[i].Data = nil // the decoded record is all that is needed now
	}
	if err := w.spool.Remove(sg); err != nil {
		w.logger.Error("cannot delete a written spool segment", "err", err)
		sleep(ctx, time.Second)
	}
	w.mu.Lock()
	w.spoolBytes, _ = w.spool.Size()
	w.makeRoomLocked()
	w.mu.Unlock()
	return true
}

// write hands one batch to the store, retrying every second while it
// refuses; false when ctx ended first.
func (w *Writer) write(ctx context.Context, batch []Record) bool {
	for len(batch) > 0 {
		err := w.opts.Store.Write(ctx, batch)
		if err == nil {
			w.written.Add(float64(len(batch)))
			return true
		}
		w.errors.Inc()
		if ctx.Err() != nil {
			return false
		}
		w.logger.Error("cannot write to the log store, retrying", "records", len(batch), "err", err)
		if !sleep(ctx, time.Second) {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
