package alertstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
)

// storedAlert is an alert as it is kept in etcd.
type storedAlert struct {
	Labels       model.LabelSet `json:"labels"`
	Annotations  model.LabelSet `json:"annotations,omitempty"`
	StartsAt     time.Time      `json:"startsAt"`
	EndsAt       time.Time      `json:"endsAt"`
	GeneratorURL string         `json:"generatorURL,omitempty"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	Timeout      bool           `json:"timeout,omitempty"`
}

func encodeAlert(a *alert.Alert) ([]byte, error) {
	return json.Marshal(storedAlert{
		Labels:       a.Labels,
		Annotations:  a.Annotations,
		StartsAt:     a.StartsAt,
		EndsAt:       a.EndsAt,
		GeneratorURL: a.GeneratorURL,
		UpdatedAt:    a.UpdatedAt,
		Timeout:      a.Timeout,
	})
}

// decodeAlert rebuilds an alert through alert.New, which computes the
// fingerprint; an alert built any other way has a zero fingerprint.
func decodeAlert(b []byte) (*alert.Alert, error) {
	var s storedAlert
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("cannot decode stored alert: %w", err)
	}
	if len(s.Labels) == 0 {
		return nil, fmt.Errorf("cannot decode stored alert: no labels")
	}
	return alert.New(model.Alert{
		Labels:       s.Labels,
		Annotations:  s.Annotations,
		StartsAt:     s.StartsAt,
		EndsAt:       s.EndsAt,
		GeneratorURL: s.GeneratorURL,
	}, s.UpdatedAt, s.Timeout), nil
}

// needsWrite decides whether merged, the alert as this replica now knows it,
// must be written over stored, the alert as etcd has it. Senders re-send
// firing alerts every evaluation with endsAt moved forward; writing each of
// those would make etcd the bottleneck for no gain, so endsAt is refreshed
// only once half of the stored validity is used up, which always leaves the
// other replicas a stored endsAt in the future while the sender keeps
// sending. Everything else that differs is written at once.
func needsWrite(stored, merged *alert.Alert, now time.Time) bool {
	if stored == nil {
		return true
	}
	if !stored.StartsAt.Equal(merged.StartsAt) ||
		stored.GeneratorURL != merged.GeneratorURL ||
		stored.Timeout != merged.Timeout ||
		!stored.Annotations.Equal(merged.Annotations) {
		return true
	}
	if stored.EndsAt.Equal(merged.EndsAt) {
		return false
	}
	if merged.ResolvedAt(now) || stored.ResolvedAt(now) {
		return true
	}
	return stored.EndsAt.Sub(now) < merged.EndsAt.Sub(now)/2
}
