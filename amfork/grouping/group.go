package grouping

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/marker"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/common/model"
)

// shards split a route's groups so that ingest workers rarely wait on
// one another's lock.
const shards = 64

// routeGroups are one route's aggregation groups, by group-label
// fingerprint.
type routeGroups struct {
	route *dispatch.Route
	key   string // route.Key(), which upstream rebuilds on every call
	shard [shards]struct {
		sync.Mutex
		groups map[model.Fingerprint]*group
	}
}

// newRouteGroups makes a route's shards; a shard's map is made with its
// first group, as most routes of a large tree hold few groups.
func newRouteGroups(r *dispatch.Route) *routeGroups {
	return &routeGroups{route: r, key: r.Key()}
}

// insert puts a into the group with these labels, creating the group (and
// its first flush's timer) when there is none.
func (rg *routeGroups) insert(d *Dispatcher, labels model.LabelSet, a *alert.Alert, now time.Time) (g *group, created bool) {
	fp := labels.Fingerprint()
	sh := &rg.shard[fp%shards]
	sh.Lock()
	defer sh.Unlock()
	g = sh.groups[fp]
	if g == nil {
		if sh.groups == nil {
			sh.groups = make(map[model.Fingerprint]*group)
		}
		g = &group{d: d, rg: rg, labels: labels, fp: fp, alerts: make(map[model.Fingerprint]*alert.Alert, 1)}
		sh.groups[fp] = g
		created = true
	}
	g.mu.Lock()
	g.alerts[a.Fingerprint()] = a
	g.generation++
	g.mu.Unlock()
	if created {
		wait := rg.route.RouteOpts.GroupWait
		// An alert older than group_wait has waited enough: as upstream,
		// its new group flushes at once.
		if a.StartsAt.Add(wait).Before(now) {
			wait = 0
		}
		g.timer = time.AfterFunc(wait, g.flush)
	}
	return g, created
}

// removeIfEmpty drops g if it has no alerts left, under the locks insert takes,
// so that no alert can arrive in a group that is gone.
func (rg *routeGroups) removeIfEmpty(g *group) bool {
	sh := &rg.shard[g.fp%shards]
	sh.Lock()
	defer sh.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.alerts) > 0 || g.removed {
		return false
	}
	g.removed = true
	if sh.groups[g.fp] == g {
		delete(sh.groups, g.fp)
	}
	return true
}

// snapshot lists the route's groups at one moment.
func (rg *routeGroups) snapshot() []*group {
	var out []*group
	for i := range rg.shard {
		sh := &rg.shard[i]
		sh.Lock()
		for _, g := range sh.groups {
			out = append(out, g)
		}
		sh.Unlock()
	}
	return out
}

// group is an aggregation group: the alerts of one route with the same
// group labels, flushed together.
type group struct {
	d      *Dispatcher
	rg     *routeGroups
	labels model.LabelSet
	fp     model.Fingerprint
	timer  *time.Timer // set before the group is visible; fires flush

	mu     sync.Mutex
	alerts map[model.Fingerprint]*alert.Alert
	// marker and id are made at the first flush: before it, every alert of
	// the group is unprocessed, which is what an absent marker says.
	marker     marker.AlertMarker
	id         string
	flushID    uint64
	removed    bool
	generation uint64 // of the alert set, for the route-label cache
	rendered   *renderedRouteLabels
}

type renderedRouteLabels struct {
	generation uint64
	labels     model.LabelSet
}

func (g *group) key() string {
	return fmt.Sprintf("%s:%s", g.rg.key, g.labels)
}

func (g *group) info() eventrecorder.AlertGroup {
	key := g.key()
	return eventrecorder.NewAlertGroup(key, g.labels, notify.Key(key).Hash(), g.rg.route.RouteOpts.Receiver, nil, "")
}

// list returns the group's alerts, in no order.
func (g *group) list() alert.AlertSlice {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.listLocked()
}

func (g *group) listLocked() alert.AlertSlice {
	out := make(alert.AlertSlice, 0, len(g.alerts))
	for _, a := range g.alerts {
		out = append(out, a)
	}
	return out
}

// firingStates calls f with every firing alert of the group and the state
// the group's last flush marked it with.
func (g *group) firingStates(f func(fp model.Fingerprint, state alert.AlertState)) {
	g.mu.Lock()
	alerts, mark := g.listLocked(), g.marker
	g.mu.Unlock()
	for _, a := range alerts {
		if a.Resolved() {
			continue
		}
		state := alert.AlertStateUnprocessed
		if mark != nil {
			state = mark.Status(a.Fingerprint()).State
		}
		f(a.Fingerprint(), state)
	}
}

// flush sends the group's alerts through the pipeline, as upstream's
// aggregation group does when its timer fires: firing alerts without
// their end time, resolved ones as they are; after a successful send the
// resolved alerts that did not change meanwhile leave the group, and an
// empty group is removed. It runs on the timer's goroutine and sets the
// timer again for group_interval after it began.
func (g *group) flush() {
	d := g.d
	if !d.beginFlush() {
		return
	}
	defer d.flushes.Done()
	now := time.Now()
	opts := &g.rg.route.RouteOpts

	g.mu.Lock()
	if g.marker == nil {
		g.marker = marker.NewAlertMarker()
		g.id = uuid.NewString()
	}
	g.flushID++
	mark, id, flushID := g.marker, g.id, g.flushID
	alerts := g.listLocked()
	g.mu.Unlock()

	if len(alerts) > 0 {
		g.send(now, alerts, mark, id, flushID)
	}
	if g.rg.removeIfEmpty(g) {
		d.groupRemoved()
		return
	}

	d.flushMu.RLock()
	defer d.flushMu.RUnlock()
	if !d.stopped {
		g.timer.Reset(time.Until(now.Add(opts.GroupInterval)))
	}
}

func (g *group) send(now time.Time, stored alert.AlertSlice, mark marker.AlertMarker, id string, flushID uint64) {
	d := g.d
	opts := &g.rg.route.RouteOpts
	batch := make(alert.AlertSlice, 0, len(stored))
	var resolved alert.AlertSlice
	for _, a := range stored {
		copied := *a
		if copied.ResolvedAt(now) {
			resolved = append(resolved, &copied)
		} else {
			// Firing at this flush, whatever end time the sender gave.
			copied.EndsAt = time.Time{}
		}
		batch = append(batch, &copied)
	}
	sort.Stable(batch)

	key := g.key()
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout(opts.GroupInterval))
	defer cancel()
	ctx = notify.WithAggrGroupID(ctx, id)
	ctx = notify.WithNow(ctx, now)
	ctx = notify.WithGroupKey(ctx, key)
	ctx = notify.WithGroupLabels(ctx, g.labels)
	ctx = notify.WithRouteLabels(ctx, g.renderRouteLabels(batch))
	ctx = notify.WithReceiverName(ctx, opts.Receiver)
	ctx = notify.WithRepeatInterval(ctx, opts.RepeatInterval)
	ctx = notify.WithMuteTimeIntervals(ctx, opts.MuteTimeIntervals)
	ctx = notify.WithActiveTimeIntervals(ctx, opts.ActiveTimeIntervals)
	ctx = notify.WithFlushID(ctx, flushID)
	ctx = notify.WithGroupMatchers(ctx, g.rg.route.Matchers)
	ctx = marker.WithContext(ctx, mark)

	if _, _, err := d.stage.Exec(ctx, d.logger, batch...); err != nil {
		logger := d.logger.With("aggrGroup", key, "num_alerts", len(batch), "receiver", opts.Receiver, "err", err)
		if errors.Is(ctx.Err(), context.Canceled) {
			// A reload or shutdown cancels flushes on purpose.
			logger.Debug("Notify for alerts failed")
		} else {
			logger.Error("Notify for alerts failed")
		}
		return
	}

	for _, a := range resolved {
		d.recorder.RecordEvent(d.ctx, func() eventrecorder.EventData {
			return notify.NewAlertResolvedEvent(g.info(), a)
		})
	}
	// Resolved alerts are notified and leave the group, unless they fired
	// again during the send.
	g.mu.Lock()
	defer g.mu.Unlock()
	changed := false
	for _, a := range resolved {
		fp := a.Fingerprint()
		if current, ok := g.alerts[fp]; ok && current.UpdatedAt.Equal(a.UpdatedAt) {
			delete(g.alerts, fp)
			mark.Delete(fp)
			changed = true
		}
	}
	if changed {
		g.generation++
	}
}

// routeLabels are the route's labels rendered against the group's
// current alerts, kept until the alerts change.
func (g *group) routeLabels() model.LabelSet {
	if !g.hasRouteLabels() {
		// Nothing to render, and nothing worth keeping per group.
		return model.LabelSet{}
	}
	g.mu.Lock()
	if r := g.rendered; r != nil && r.generation == g.generation {
		g.mu.Unlock()
		return r.labels
	}
	generation := g.generation
	alerts := g.listLocked()
	g.mu.Unlock()

	labels := model.LabelSet{}
	if len(alerts) > 0 {
		labels = g.renderRouteLabels(alerts)
	}
	g.mu.Lock()
	if g.generation == generation {
		g.rendered = &renderedRouteLabels{generation: generation, labels: labels}
	}
	g.mu.Unlock()
	return labels
}

// renderRouteLabels renders the route's labels, which may be templates,
// against alerts and the group's data.
func (g *group) renderRouteLabels(alerts alert.AlertSlice) model.LabelSet {
	if !g.hasRouteLabels() {
		return model.LabelSet{}
	}
	opts := &g.rg.route.RouteOpts
	tmpl := g.d.tmpl
	// The notification reason is not known here; upstream passes unknown too.
	data := tmpl.Data(opts.Receiver, g.labels, opts.Labels, notify.ReasonUnknown.String(), alerts...)
	render := tmpl.RouteLabelRenderer(data)
	out := make(model.LabelSet, len(opts.Labels))
	for name, value := range opts.Labels {
		rendered, err := render(string(name))
		if err != nil {
			g.d.logger.Error("cannot render a route label", "aggrGroup", g.key(), "label", name, "value", string(value), "err", err)
			continue
		}
		out[name] = model.LabelValue(rendered)
	}
	return out
}

// hasRouteLabels reports whether the group's route has labels to render.
func (g *group) hasRouteLabels() bool {
	return len(g.rg.route.RouteOpts.Labels) > 0 && g.d.tmpl != nil
}
