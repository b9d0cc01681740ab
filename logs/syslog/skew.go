package syslog

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// maxSkewSenders bounds the senders the clock skew series are kept for;
// the lines of senders beyond it are counted under sender="other".
const maxSkewSenders = 1000

// skewMetrics tell an operator which devices have bad clocks: per sender
// address, the lines whose own time was more than ClockSkewThreshold
// from their arrival, and the latest such difference.
type skewMetrics struct {
	lines  *prometheus.CounterVec
	latest *prometheus.GaugeVec

	mu      sync.Mutex
	senders map[string]bool // guarded by mu
}

func newSkewMetrics(f promauto.Factory) *skewMetrics {
	return &skewMetrics{
		lines: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_syslog_clock_skew_lines_total",
			Help: "Lines stored whose own time was more than a minute from their arrival, by sender address (the first 1000 senders; the rest as \"other\").",
		}, []string{"sender"}),
		latest: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kusanagi_syslog_clock_skew_seconds",
			Help: "Arrival minus the sender's own time of its latest line that was more than a minute off (positive: the sender's clock is behind), by sender address.",
		}, []string{"sender"}),
		senders: map[string]bool{},
	}
}

func (m *skewMetrics) observe(sender string, skew time.Duration) {
	m.mu.Lock()
	if !m.senders[sender] {
		if len(m.senders) >= maxSkewSenders {
			sender = "other"
		} else {
			m.senders[sender] = true
		}
	}
	m.mu.Unlock()
	m.lines.WithLabelValues(sender).Inc()
	m.latest.WithLabelValues(sender).Set(skew.Seconds())
}
