// Package embedded is the log store of `kusanagi run`: SQLite (pure Go,
// modernc.org/sqlite) with an FTS5 index over the text fields, one
// database file per UTC day (docs/log-store.md).
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	_ "modernc.org/sqlite" // the database/sql driver

	"github.com/kusanagi-dev/kusanagi/logs"
)

// Options configure a Store.
type Options struct {
	// Dir holds the partitions, one file per UTC day.
	Dir string
	// RetentionDays is how many days records are kept at least: a day's
	// partition is deleted once its last second is that old. Zero keeps
	// everything.
	RetentionDays int
	// RetentionInterval is how often Run applies retention; default 10m.
	RetentionInterval time.Duration
	// Shards is how many databases a day is written to at the same time
	// (see partition); default 2 with 2 cores or more, else 1. A day an
	// earlier run wrote to more keeps them all. Two shards take about 15%
	// more CPU per record than one, but SQLite lets one writer into a file,
	// and one writer on one core is what bounds indexing: with the
	// receiver's cost per line cut, syslogbench at a steady rate on 2
	// cores, 1.1-1.9M records stored, four runs each, alternating: two
	// shards kept up with 50k lines/s in four (49.1-49.6k records/s
	// indexed while receiving) and with 60k in three (56.7-59.7k); one
	// shard with 50k in two (42.1-48.7k) and 60k in one (46.6-59.6k).
	// More than two was not measured (no machine here has the cores), and
	// the SQLite driver's C allocator takes one lock for the whole
	// process, which bounds what more shards can give.
	Shards int
	// Now is the clock; default time.Now.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// legacyTimestampField held, in day files written before records had an
// arrival time, the sender's time of a record stamped more than a day
// ahead, which was then stored at the time of writing: it is read back as
// the record's Timestamp.
const legacyTimestampField = "kusanagi.original_timestamp"

// Store is an embedded log store in one directory, safe for concurrent
// writes and queries.
type Store struct {
	opts    Options
	logger  *slog.Logger
	metrics metrics

	mu     sync.Mutex
	parts  map[int64]*partition // by day; guarded by mu
	closed bool                 // guarded by mu
}

var _ logs.Store = (*Store)(nil)

// Open opens (or creates) a store in dir that keeps every record.
func Open(dir string) (*Store, error) {
	return New(context.Background(), Options{Dir: dir})
}

// New validates o and opens the partitions found in o.Dir.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("embedded log store: Dir is required")
	}
	if o.RetentionDays < 0 {
		return nil, fmt.Errorf("embedded log store: RetentionDays %d is negative", o.RetentionDays)
	}
	if o.Shards < 0 {
		return nil, fmt.Errorf("embedded log store: Shards %d is negative", o.Shards)
	}
	if o.Shards == 0 {
		o.Shards = 1
		if runtime.GOMAXPROCS(0) >= 2 {
			o.Shards = 2
		}
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create log store directory: %w", err)
	}
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read log store directory: %w", err)
	}
	s := &Store{opts: o, logger: o.Logger.With("component", "logs"), parts: map[int64]*partition{}}
	for _, e := range entries {
		day, shard, ok := parsePartitionFile(e.Name())
		if !ok {
			if e.Name() == "logs.db" {
				s.logger.Warn("a log store from before daily partitions is not read", "file", e.Name(), "dir", o.Dir)
			}
			continue
		}
		if shard != 0 {
			continue // opened with the day's first
		}
		p, err := openPartition(ctx, o.Dir, day, o.Shards)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.parts[day] = p
	}
	s.metrics = newMetrics(promauto.With(o.Registerer), s)
	return s, nil
}

// Close closes every partition; queries and writes in flight finish
// first, later ones fail.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	parts := slices.Collect(maps.Values(s.parts))
	s.parts = map[int64]*partition{}
	s.mu.Unlock()
	var errs []error
	for _, p := range parts {
		p.writeMu.Lock() // a write in flight commits first
		errs = append(errs, p.close())
		p.writeMu.Unlock()
	}
	return errors.Join(errs...)
}

var errClosed = errors.New("log store closed")

// acquire holds the partitions of days [from, to], newest first; release
// lets them go. A partition dropped meanwhile stays readable until
// released.
func (s *Store) acquire(from, to int64) ([]*partition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	var out []*partition
	if to-from+1 <= int64(len(s.parts)) {
		for day := to; day >= from; day-- {
			if p := s.parts[day]; p != nil {
				out = append(out, p)
			}
		}
	} else {
		for day, p := range s.parts {
			if day >= from && day <= to {
				out = append(out, p)
			}
		}
		slices.SortFunc(out, func(a, b *partition) int { return int(b.day - a.day) })
	}
	for _, p := range out {
		p.refs++
	}
	return out, nil
}

func (s *Store) release(parts ...*partition) {
	var gone []*partition
	s.mu.Lock()
	for _, p := range parts {
		p.refs--
		if p.dropped && p.refs == 0 {
			gone = append(gone, p)
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		s.dispose(p)
	}
}

// partitionFor holds the partition of day for a write, creating it when
// missing; nil when retention has already passed the day.
func (s *Store) partitionFor(ctx context.Context, day int64) (*partition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.expired(day, s.opts.Now()) {
		return nil, nil
	}
	p := s.parts[day]
	if p == nil {
		var err error
		if p, err = openPartition(ctx, s.opts.Dir, day, s.opts.Shards); err != nil {
			return nil, err
		}
		s.parts[day] = p
	}
	p.refs++
	return p, nil
}

// expired tells whether retention deletes the partition of day: all its
// records are older than RetentionDays.
func (s *Store) expired(day int64, now time.Time) bool {
	if s.opts.RetentionDays == 0 {
		return false
	}
	return !dayStart(day + 1).After(now.Add(-time.Duration(s.opts.RetentionDays) * 24 * time.Hour))
}
