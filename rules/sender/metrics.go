package sender

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	sent, errors *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	queueLength  *prometheus.GaugeVec
	duration     *prometheus.HistogramVec
	invalid      prometheus.Counter
}

type targetMetrics struct {
	sent, errors                                  prometheus.Counter
	droppedFull, droppedRejected, droppedShutdown prometheus.Counter
	queueLength                                   prometheus.Gauge
	duration                                      prometheus.Observer
}

func newMetrics(reg prometheus.Registerer, capacity int) *metrics {
	f := promauto.With(reg)
	f.NewGauge(prometheus.GaugeOpts{
		Name: "kusanagi_sender_queue_capacity",
		Help: "Alerts each Alertmanager's queue holds before the oldest are dropped.",
	}).Set(float64(capacity))
	am := []string{"alertmanager"}
	return &metrics{
		sent: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_sender_alerts_sent_total",
			Help: "Alerts Alertmanager accepted.",
		}, am),
		errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_sender_errors_total",
			Help: "Requests to Alertmanager that failed.",
		}, am),
		dropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_sender_alerts_dropped_total",
			Help: "Alerts given up on: queue_full (oldest dropped), rejected (Alertmanager answered 4xx), shutdown (not delivered in time).",
		}, []string{"alertmanager", "reason"}),
		queueLength: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kusanagi_sender_queue_length",
			Help: "Alerts waiting to be sent.",
		}, am),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kusanagi_sender_request_duration_seconds",
			Help:    "Time to post one batch of alerts.",
			Buckets: prometheus.DefBuckets,
		}, am),
		invalid: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_sender_alerts_invalid_total",
			Help: "Alerts refused before queueing because Alertmanager would reject them.",
		}),
	}
}

func (m *metrics) forTarget(name string) *targetMetrics {
	return &targetMetrics{
		sent:            m.sent.WithLabelValues(name),
		errors:          m.errors.WithLabelValues(name),
		droppedFull:     m.dropped.WithLabelValues(name, "queue_full"),
		droppedRejected: m.dropped.WithLabelValues(name, "rejected"),
		droppedShutdown: m.dropped.WithLabelValues(name, "shutdown"),
		queueLength:     m.queueLength.WithLabelValues(name),
		duration:        m.duration.WithLabelValues(name),
	}
}
