package logs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	Store Store
	// Name labels the writer's metrics ("traps", "syslog").
	Name string
	// BatchSize and FlushInterval bound how long a record waits; defaults
	// 5000 and 200ms.
	BatchSize     int
	FlushInterval time.Duration
	// QueueSize bounds records waiting for the store; default 200000.
	QueueSize  int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Writer batches records into a store off the receiving goroutines.
type Writer struct {
	opts    WriterOptions
	logger  *slog.Logger
	queue   chan Record
	written prometheus.Counter
	dropped prometheus.Counter
	errors  prometheus.Counter
}

// NewWriter validates o.
func NewWriter(o WriterOptions) (*Writer, error) {
	if o.Store == nil || o.Name == "" {
		return nil, errors.New("logs writer: Store and Name are required")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 5000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 200000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"source": o.Name}, o.Registerer))
	return &Writer{
		opts:    o,
		logger:  o.Logger.With("component", "logs", "source", o.Name),
		queue:   make(chan Record, o.QueueSize),
		written: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_records_written_total", Help: "Records written to the log store."}),
		dropped: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_records_dropped_total", Help: "Records dropped because the store fell behind and the queue was full."}),
		errors:  f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_write_errors_total", Help: "Batches the store refused (retried)."}),
	}, nil
}

// Add queues a record; when the store has fallen behind by QueueSize
// records it is dropped and counted rather than stalling the receiver.
func (w *Writer) Add(r Record) {
	select {
	case w.queue <- r:
	default:
		w.dropped.Inc()
	}
}

// AddWait queues a record, waiting while the queue is full: stream
// receivers (TCP) push back on their senders instead of dropping.
func (w *Writer) AddWait(ctx context.Context, r Record) error {
	select {
	case w.queue <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run writes batches until ctx ends, then writes what is queued.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	batch := make([]Record, 0, w.opts.BatchSize)
	flush := func(ctx context.Context) {
		for len(batch) > 0 {
			err := w.opts.Store.Write(ctx, batch)
			if err == nil {
				w.written.Add(float64(len(batch)))
				batch = batch[:0]
				return
			}
			w.errors.Inc()
			w.logger.Error("cannot write to the log store, retrying", "records", len(batch), "err", err)
			select {
			case <-ctx.Done():
				w.dropped.Add(float64(len(batch)))
				batch = batch[:0]
				return
			case <-time.After(time.Second):
			}
		}
	}
	for {
		select {
		case r := <-w.queue:
			batch = append(batch, r)
			if len(batch) >= w.opts.BatchSize {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for {
				select {
				case r := <-w.queue:
					batch = append(batch, r)
					if len(batch) >= w.opts.BatchSize {
						flush(drain)
					}
				default:
					flush(drain)
					return nil
				}
			}
		}
	}
}
