package grouping

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/common/model"
)

// Groups answers the API's /api/v2/alerts/groups as upstream's dispatcher
// does: the groups of the routes routeFilter takes, each with the alerts
// alertFilter takes and their statuses, sorted; and the receivers of
// every alert listed.
func (d *Dispatcher) Groups(ctx context.Context, routeFilter func(*dispatch.Route) bool, alertFilter dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-d.loaded:
	}
	groups := dispatch.AlertGroups{}
	receivers := map[model.Fingerprint][]string{}
	now := time.Now()
	for _, rg := range d.routes {
		if !routeFilter(rg.route) {
			continue
		}
		opts := &rg.route.RouteOpts
		receiver := opts.Receiver
		var mutedByActive, mutedByMute []string
		mutesKnown := len(opts.ActiveTimeIntervals) == 0 && len(opts.MuteTimeIntervals) == 0
		for _, g := range rg.snapshot() {
			alerts := g.list()
			kept := make(alert.AlertSlice, 0, len(alerts))
			statuses := make(map[model.Fingerprint]alert.AlertStatus, len(alerts))
			for _, a := range alerts {
				status, ok := alertFilter(a, now)
				if !ok {
					continue
				}
				fp := a.Fingerprint()
				statuses[fp] = status
				receivers[fp] = append(receivers[fp], receiver)
				kept = append(kept, a)
			}
			if len(kept) == 0 {
				continue
			}
			// A route's groups share its time intervals: evaluated once,
			// and only for a route that has a group to show.
			if !mutesKnown {
				var err error
				mutedByActive, mutedByMute, err = notify.MutedByTimeIntervals(d.timeMuter, opts.ActiveTimeIntervals, opts.MuteTimeIntervals, now)
				if err != nil {
					return nil, nil, fmt.Errorf("cannot compute the time interval mutes of route %s: %w", rg.route.ID(), err)
				}
				mutesKnown = true
			}
			groups = append(groups, &dispatch.AlertGroup{
				Alerts:                     kept,
				Labels:                     g.labels,
				RouteLabels:                g.routeLabels(),
				Receiver:                   receiver,
				GroupKey:                   g.key(),
				AlertStatuses:              statuses,
				MutedByActiveTimeIntervals: mutedByActive,
				MutedByMuteTimeIntervals:   mutedByMute,
			})
		}
	}
	sort.Sort(groups)
	for _, g := range groups {
		sort.Sort(g.Alerts)
	}
	for _, r := range receivers {
		sort.Strings(r)
	}
	return groups, receivers, nil
}
