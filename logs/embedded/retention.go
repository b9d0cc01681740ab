package embedded

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	refusedExpired    prometheus.Counter
	droppedRecords    prometheus.Counter
	droppedPartitions prometheus.Counter
}

func newMetrics(f promauto.Factory, s *Store) metrics {
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "kusanagi_logs_embedded_partitions", Help: "Daily partitions of the embedded log store."},
		func() float64 { return float64(len(s.held())) })
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "kusanagi_logs_embedded_size_bytes", Help: "Bytes the embedded log store's partitions take on disk."},
		func() float64 {
			var n int64
			for _, p := range s.held() {
				n += p.size()
			}
			return float64(n)
		})
	refused := f.NewCounterVec(prometheus.CounterOpts{Name: "kusanagi_logs_embedded_records_refused_total", Help: "Records the embedded log store refused, by reason."}, []string{"reason"})
	return metrics{
		refusedExpired:    refused.WithLabelValues("older_than_retention"),
		droppedRecords:    f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_embedded_retention_dropped_records_total", Help: "Records deleted by retention."}),
		droppedPartitions: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_embedded_retention_dropped_partitions_total", Help: "Daily partitions deleted by retention."}),
	}
}

// held lists the partitions in the store, oldest first.
func (s *Store) held() []*partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := slices.Collect(maps.Values(s.parts))
	slices.SortFunc(parts, func(a, b *partition) int { return int(a.day - b.day) })
	return parts
}

// Run applies retention every RetentionInterval until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	if s.opts.RetentionDays == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.opts.RetentionInterval)
	defer t.Stop()
	for {
		s.ApplyRetention()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ApplyRetention drops the partitions whose records are all older than
// RetentionDays. A partition still read or written is deleted by its
// last holder.
func (s *Store) ApplyRetention() {
	if s.opts.RetentionDays == 0 {
		return
	}
	now := s.opts.Now()
	var gone []*partition
	s.mu.Lock()
	for day, p := range s.parts {
		if s.expired(day, now) {
			delete(s.parts, day)
			p.dropped = true
			if p.refs == 0 {
				gone = append(gone, p)
			}
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		s.dispose(p)
	}
}

// dispose deletes a dropped partition nobody holds any more: no write can
// be in flight, so its record count is final.
func (s *Store) dispose(p *partition) {
	n, err := p.records(context.Background())
	if err != nil {
		s.logger.Error("cannot count the records of a dropped log partition", "err", err)
	}
	s.metrics.droppedRecords.Add(float64(n))
	s.metrics.droppedPartitions.Inc()
	if err := p.remove(); err != nil {
		s.logger.Error("cannot delete a dropped log partition", "err", err)
		return
	}
	s.logger.Info("log partition dropped by retention", "day", dayStart(p.day).Format(dayLayout), "records", n, "retention_days", s.opts.RetentionDays)
}
