package amfork

import (
	"github.com/prometheus/alertmanager/alert"
	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/provider"

	"github.com/kusanagi-dev/kusanagi/alertstore"
)

// inhibitSources is the alert store as the inhibitor sees it: only alerts
// that match the source side of some inhibition rule, the only ones it
// keeps. Upstream's inhibitor is handed every alert and drops the others
// itself, after a channel send, a wake-up and a tracing span each; with no
// rule (a common configuration) that was all of its work. The inhibitor
// subscribes through SlurpAndSubscribe; anything else is the whole store.
type inhibitSources struct {
	*alertstore.Alerts
	rules []*inhibit.InhibitRule
}

func newInhibitSources(alerts *alertstore.Alerts, rules []amcommoncfg.InhibitRule) *inhibitSources {
	s := &inhibitSources{Alerts: alerts}
	for _, r := range rules {
		s.rules = append(s.rules, inhibit.NewInhibitRule(r))
	}
	return s
}

func (s *inhibitSources) isSource(a *alert.Alert) bool {
	for _, r := range s.rules {
		if r.SourceMatchers.Matches(a.Labels) {
			return true
		}
	}
	return false
}

func (s *inhibitSources) SlurpAndSubscribe(name string) ([]*alert.Alert, provider.AlertIterator) {
	return s.SlurpAndSubscribeMatching(name, s.isSource)
}
