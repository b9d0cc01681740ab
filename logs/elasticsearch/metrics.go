package elasticsearch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

type metrics struct {
	indexed   prometheus.Counter
	fallbacks prometheus.Counter
	rejected  prometheus.Counter
	spooled   prometheus.Counter
	replayed  prometheus.Counter
	spoolFull prometheus.Counter
	skipped   prometheus.Counter
	failures  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, sp func() *spool.Spool) *metrics {
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "kusanagi_logs_elasticsearch_spool_bytes", Help: "Bytes in the spool, waiting for Elasticsearch."}, func() float64 {
		if sp := sp(); sp != nil {
			b, _ := sp.Size()
			return float64(b)
		}
		return 0
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "kusanagi_logs_elasticsearch_spool_records", Help: "Records in the spool, waiting for Elasticsearch."}, func() float64 {
		if sp := sp(); sp != nil {
			_, n := sp.Size()
			return float64(n)
		}
		return 0
	})
	return &metrics{
		indexed:   f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_indexed_records_total", Help: "Records Elasticsearch acknowledged."}),
		fallbacks: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_fallback_records_total", Help: "Records Elasticsearch refused for their content, indexed again in the fallback form (tag kusanagi.index_error)."}),
		rejected:  f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_rejected_records_total", Help: "Records refused even in the fallback form, kept in the spool directory's rejected.ndjson."}),
		spooled:   f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_spooled_records_total", Help: "Records written to the spool because Elasticsearch was unavailable or refusing."}),
		replayed:  f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_replayed_records_total", Help: "Spooled records Elasticsearch acknowledged."}),
		spoolFull: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_spool_full_total", Help: "Writes refused because the spool reached max_bytes."}),
		skipped:   f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logs_elasticsearch_spool_skipped_bytes_total", Help: "Bytes of torn or corrupt spool frames skipped when reading the spool at start."}),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_logs_elasticsearch_item_failures_total",
			Help: "Bulk items that failed, by reason (the Elasticsearch error type, or request_failed when the whole request did).",
		}, []string{"reason"}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_logs_elasticsearch_retries_total",
			Help: "Retries of whole requests (kind=request) and of bulk items (kind=item).",
		}, []string{"kind"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kusanagi_logs_elasticsearch_request_duration_seconds", Help: "Duration of HTTP requests to Elasticsearch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"operation", "code", "method"}),
	}
}
