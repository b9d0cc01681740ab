package elasticsearch

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/jpillora/backoff"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

// Options configure a Store.
type Options struct {
	// URLs of the cluster's nodes (http(s)://host:port).
	URLs []string
	// Flavor is FlavorElasticsearch (the default, 8 or later) or
	// FlavorOpenSearch (2 or later).
	Flavor string
	// DataStream is where records go (default logs-kusanagi-default);
	// Index names a plain index instead.
	DataStream string
	Index      string
	// Retention deletes older records of a data stream: Elasticsearch's
	// data stream lifecycle, or on OpenSearch an ISM policy (ism.go). Zero
	// keeps them.
	Retention time.Duration
	// HTTP holds authentication and TLS.
	HTTP commoncfg.HTTPClientConfig

	// SpoolDir keeps what Elasticsearch has not acknowledged; required.
	SpoolDir string
	// SpoolMaxBytes bounds the spool (default 1 GiB); Write fails when full.
	SpoolMaxBytes int64
	// SpoolSegmentBytes is the size of one spool file (default 16 MiB).
	SpoolSegmentBytes int64

	// FlushBytes bounds one bulk request (default 5 MB); Workers send
	// bulk requests in parallel (default 2).
	FlushBytes    int
	FlushInterval time.Duration
	Workers       int
	// Refresh is the bulk refresh parameter: "" (Elasticsearch refreshes
	// every second), "wait_for" or "true" (tests).
	Refresh string
	// RequestTimeout bounds a request with its retries (default 1m).
	RequestTimeout time.Duration
	// MaxRetries of a whole request (default 3), WriteAttempts of a
	// document before Write spools it (default 4), with exponential
	// backoff between RetryBackoffMin (100ms) and RetryBackoffMax (30s).
	MaxRetries      int
	WriteAttempts   int
	RetryBackoffMin time.Duration
	RetryBackoffMax time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func (o *Options) validate() error {
	if len(o.URLs) == 0 {
		return errors.New("elasticsearch: at least one URL is required")
	}
	if o.Flavor == "" {
		o.Flavor = FlavorElasticsearch
	}
	if o.Flavor != FlavorElasticsearch && o.Flavor != FlavorOpenSearch {
		return fmt.Errorf("elasticsearch: flavor %q must be elasticsearch or opensearch", o.Flavor)
	}
	if o.DataStream != "" && o.Index != "" {
		return errors.New("elasticsearch: set data_stream or index, not both")
	}
	if o.DataStream == "" && o.Index == "" {
		o.DataStream = "logs-kusanagi-default"
	}
	for _, n := range []string{o.DataStream, o.Index} {
		if n != "" && !nameRE.MatchString(n) {
			return fmt.Errorf("elasticsearch: %q is not a valid index or data stream name (lower case, digits, '.', '_', '-')", n)
		}
	}
	if o.SpoolDir == "" {
		return errors.New("elasticsearch: a spool directory is required")
	}
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.SpoolMaxBytes, 1<<30)
	def(&o.SpoolSegmentBytes, 16<<20)
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&o.FlushBytes, 5e6)
	defInt(&o.Workers, 2)
	defInt(&o.MaxRetries, 3)
	defInt(&o.WriteAttempts, 4)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&o.FlushInterval, time.Second)
	defDur(&o.RequestTimeout, time.Minute)
	defDur(&o.RetryBackoffMin, 100*time.Millisecond)
	defDur(&o.RetryBackoffMax, 30*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// Store is the log store on Elasticsearch or OpenSearch. Records are
// written with the bulk API; while the cluster is unreachable or refusing
// they go to a disk spool, replayed by Run once it answers again.
type Store struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics
	target  string // the data stream or index
	api     esapi.Transport
	raw     *elastictransport.Client
	bulk    esutil.BulkIndexer
	spool   *spool.Spool
	backoff *backoff.Backoff
	ready   chan struct{}
	wake    chan struct{}

	mu sync.Mutex
	// spooling is set while the spool holds records (and until the index
	// template is installed): Write appends to the spool, keeping order.
	spooling bool
	full     bool // the spool is full; logged once per episode

	rejectMu sync.Mutex // serialises appends to rejected.ndjson
}

var _ logs.Store = (*Store)(nil)

// New validates o and opens the spool; it does not contact the cluster
// (Run does), so that Kusanagi starts and spools while it is down.
func New(o Options) (*Store, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		opts:     o,
		logger:   o.Logger.With("component", "logs-elasticsearch"),
		target:   o.DataStream + o.Index,
		backoff:  &backoff.Backoff{Min: o.RetryBackoffMin, Max: o.RetryBackoffMax, Factor: 2, Jitter: true},
		ready:    make(chan struct{}),
		wake:     make(chan struct{}, 1),
		spooling: true,
	}
	s.metrics = newMetrics(o.Registerer, func() *spool.Spool { return s.spool })
	var err error
	s.spool, err = spool.Open(spool.Options{
		Dir: o.SpoolDir, MaxBytes: o.SpoolMaxBytes, SegmentBytes: o.SpoolSegmentBytes, Logger: s.logger,
		Skipped: func(n int64) { s.metrics.skipped.Add(float64(n)) },
	})
	if err != nil {
		return nil, err
	}
	if b, n := s.spool.Size(); n > 0 {
		s.logger.Info("spool holds records from an earlier run; they are replayed once Elasticsearch answers", "records", n, "bytes", b)
	}
	s.api, s.raw, err = newTransport(&s.opts, s.metrics)
	if err != nil {
		s.spool.Close()
		return nil, err
	}
	s.bulk, err = esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:        s.api,
		NumWorkers:    o.Workers,
		FlushBytes:    o.FlushBytes,
		FlushInterval: o.FlushInterval,
		Index:         s.target,
		Refresh:       o.Refresh,
		OnFlushStart: func(ctx context.Context) context.Context {
			ctx, cancel := context.WithTimeout(withOp(ctx, "bulk"), o.RequestTimeout)
			return context.WithValue(ctx, cancelKey{}, cancel)
		},
		OnFlushEnd: func(ctx context.Context) {
			if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
				cancel()
			}
		},
		OnError: func(_ context.Context, err error) {
			s.logger.Debug("bulk request failed", "err", err)
		},
	})
	if err != nil {
		s.spool.Close()
		return nil, fmt.Errorf("cannot create the bulk indexer: %w", err)
	}
	return s, nil
}

type cancelKey struct{}

// Ready is closed once the index template is installed and the spool
// left by an earlier run replayed: from then on Write indexes directly
// while the cluster answers.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Close stops the bulk workers and closes the spool; call it after Run
// has returned.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
	defer cancel()
	err := s.bulk.Close(ctx)
	if cerr := s.spool.Close(); err == nil {
		err = cerr
	}
	if c, ok := s.api.(interface{ Close(context.Context) error }); ok && s.api != esapi.Transport(s.raw) {
		c.Close(ctx)
	}
	s.raw.Close(ctx)
	return err
}

// newID names a document; chosen at acceptance and kept in the spool.
func newID() string { return rand.Text() }

// Write indexes records, or spools them while Elasticsearch is unavailable;
// it returns once they are acknowledged or fsync'd to the spool.
func (s *Store) Write(ctx context.Context, records []logs.Record) error {
	entries := make([]spool.Entry, len(records))
	for i := range records {
		doc, err := document(&records[i])
		if err != nil {
			return fmt.Errorf("cannot encode a log record: %w", err)
		}
		entries[i] = spool.Entry{ID: newID(), Data: doc}
	}
	s.mu.Lock()
	if s.spooling {
		defer s.mu.Unlock()
		return s.spoolLocked(entries)
	}
	s.mu.Unlock()
	pending, err := s.index(ctx, entries, s.opts.WriteAttempts)
	if len(pending) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.spooling {
		s.logger.Warn("Elasticsearch is unavailable or refusing; spooling records to disk until it answers", "records", len(pending), "err", err)
		s.spooling = true
	}
	return s.spoolLocked(pending)
}

func (s *Store) spoolLocked(entries []spool.Entry) error {
	err := s.spool.Append(entries)
	if errors.Is(err, spool.ErrFull) {
		s.metrics.spoolFull.Inc()
		if !s.full {
			s.full = true
			s.logger.Error("spool full: refusing records until Elasticsearch takes the spooled ones", "err", err, "dir", s.opts.SpoolDir)
		}
		return fmt.Errorf("cannot store logs: Elasticsearch is unavailable and %w", err)
	}
	if err != nil {
		return fmt.Errorf("cannot store logs: %w", err)
	}
	s.full = false
	s.metrics.spooled.Add(float64(len(entries)))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}
