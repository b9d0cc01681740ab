package alertstore

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// EmbeddedMetrics gathers the etcd_* series of the etcd embedded in this
// process (WAL fsync and backend commit latencies, database size, proposals,
// leader changes): etcd registers them with client_golang's default
// registry, which a process serving its own registry does not expose. They
// describe an embedded member only: with external etcd they stay at zero,
// so serve them only beside an Embedded.
var EmbeddedMetrics prometheus.Gatherer = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
	families, err := prometheus.DefaultGatherer.Gather()
	kept := families[:0]
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "etcd_") {
			kept = append(kept, f)
		}
	}
	return kept, err
})
