package grouping

import (
	"sync/atomic"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
)

// Metrics are the dispatcher's series under upstream's names, so that
// dashboards made for upstream read them unchanged. They outlive a
// dispatcher: a reload hands them to the next one.
type Metrics struct {
	groups      prometheus.Gauge
	processing  prometheus.Summary
	alertStates *alertStates
}

// NewMetrics registers the dispatcher's metrics with reg; groupKey adds
// the group_key label to alertmanager_alerts, as upstream's
// group-key-in-metrics feature flag does.
func NewMetrics(reg prometheus.Registerer, groupKey bool) *Metrics {
	labels := []string{"state"}
	if groupKey {
		labels = append(labels, "group_key")
	}
	states := &alertStates{
		desc:     prometheus.NewDesc("alertmanager_alerts", "How many alerts by state.", labels, nil),
		groupKey: groupKey,
	}
	reg.MustRegister(states)
	return &Metrics{
		groups: promauto.With(reg).NewGauge(prometheus.GaugeOpts{
			Name: "alertmanager_dispatcher_aggregation_groups",
			Help: "Number of active aggregation groups",
		}),
		processing: promauto.With(reg).NewSummary(prometheus.SummaryOpts{
			Name: "alertmanager_dispatcher_alert_processing_duration_seconds",
			Help: "Summary of latencies for the processing of alerts.",
		}),
		alertStates: states,
	}
}

// alertStates counts the firing alerts of the current dispatcher's groups
// by the state their last flush marked.
type alertStates struct {
	desc       *prometheus.Desc
	groupKey   bool
	dispatcher atomic.Pointer[Dispatcher]
}

func (c *alertStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *alertStates) Collect(ch chan<- prometheus.Metric) {
	d := c.dispatcher.Load()
	if d == nil {
		return
	}
	select {
	case <-d.loaded:
	default:
		return
	}
	emit := func(n int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), labels...)
	}
	if c.groupKey {
		for _, g := range d.snapshot() {
			var n [3]int
			g.firingStates(func(_ model.Fingerprint, state alert.AlertState) { n[stateIndex(state)]++ })
			key := g.key()
			emit(n[0], string(alert.AlertStateActive), key)
			emit(n[1], string(alert.AlertStateSuppressed), key)
			emit(n[2], string(alert.AlertStateUnprocessed), key)
		}
		return
	}
	// An alert in several groups counts once, in its most severe state
	// (suppressed over active over unprocessed), as upstream counts it.
	seen := make(map[model.Fingerprint]alert.AlertState)
	for _, g := range d.snapshot() {
		g.firingStates(func(fp model.Fingerprint, state alert.AlertState) {
			if prev, ok := seen[fp]; !ok || state.Compare(prev) > 0 {
				seen[fp] = state
			}
		})
	}
	var n [3]int
	for _, state := range seen {
		n[stateIndex(state)]++
	}
	emit(n[0], string(alert.AlertStateActive))
	emit(n[1], string(alert.AlertStateSuppressed))
	emit(n[2], string(alert.AlertStateUnprocessed))
}

func stateIndex(s alert.AlertState) int {
	switch s {
	case alert.AlertStateActive:
		return 0
	case alert.AlertStateSuppressed:
		return 1
	default:
		return 2
	}
}
