// Package grouping is the Alertmanager's dispatcher: it sorts alerts into
// aggregation groups by route and group_by labels, and flushes each group
// through the notification pipeline after group_wait, then every
// group_interval, as upstream's dispatch.Dispatcher does.
//
// It differs from upstream in one respect: a group is a timer, not a
// goroutine. Upstream parks a goroutine per aggregation group for the
// group's whole life, and at 100k groups those goroutines (stacks and
// descriptors) are a third of the process's memory; here a flush runs on
// the timer's own short-lived goroutine and a waiting group costs its
// timer. Routes, the pipeline, markers, event records and the API's
// AlertGroups are upstream's types.
package grouping

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
)

// Source gives the alerts present now and every change after.
type Source interface {
	SlurpAndSubscribe(name string) ([]*alert.Alert, provider.AlertIterator)
}

// Options configure a Dispatcher.
type Options struct {
	Alerts Source
	Route  *dispatch.Route
	Stage  notify.Stage
	// TimeMuter resolves the route's time intervals for Groups; nil knows
	// none.
	TimeMuter notify.TimeMuter
	// Timeout gives a flush's time limit from the group's group_interval;
	// nil leaves it at group_interval.
	Timeout func(time.Duration) time.Duration
	// Template renders the routes' label templates; nil leaves them out.
	Template *template.Template
	Recorder eventrecorder.Recorder
	// Metrics may be nil.
	Metrics *Metrics
	Logger  *slog.Logger
}

// Dispatcher sorts alerts into aggregation groups and flushes them.
type Dispatcher struct {
	alerts    Source
	stage     notify.Stage
	timeMuter notify.TimeMuter
	timeout   func(time.Duration) time.Duration
	tmpl      *template.Template
	recorder  eventrecorder.Recorder
	metrics   *Metrics
	logger    *slog.Logger

	routes []*routeGroups // by dispatch.Route.Idx
	root   *dispatch.Route
	count  atomic.Int64 // aggregation groups

	// ctx is every flush's parent: cancelled when Run ends.
	ctx    context.Context
	cancel context.CancelFunc
	loaded chan struct{}

	flushMu sync.RWMutex // orders flushes starting against stopping
	stopped bool
	flushes sync.WaitGroup
}

// New validates o and returns a dispatcher that starts with Run.
func New(o Options) (*Dispatcher, error) {
	switch {
	case o.Alerts == nil:
		return nil, errors.New("grouping: Options.Alerts is required")
	case o.Route == nil:
		return nil, errors.New("grouping: Options.Route is required")
	case o.Stage == nil:
		return nil, errors.New("grouping: Options.Stage is required")
	case o.Logger == nil:
		return nil, errors.New("grouping: Options.Logger is required")
	}
	if o.TimeMuter == nil {
		o.TimeMuter = timeinterval.NewIntervener(nil)
	}
	if o.Timeout == nil {
		o.Timeout = func(d time.Duration) time.Duration { return d }
	}
	d := &Dispatcher{
		alerts:    o.Alerts,
		stage:     o.Stage,
		timeMuter: o.TimeMuter,
		timeout:   o.Timeout,
		tmpl:      o.Template,
		recorder:  o.Recorder,
		metrics:   o.Metrics,
		logger:    o.Logger.With("component", "dispatcher"),
		root:      o.Route,
		loaded:    make(chan struct{}),
	}
	// dispatch.NewRoute numbers the routes of a tree from 0, one each.
	o.Route.Walk(func(*dispatch.Route) { d.routes = append(d.routes, nil) })
	o.Route.Walk(func(r *dispatch.Route) { d.routes[r.Idx] = newRouteGroups(r) })
	// Upstream records events only under a context that says so.
	d.ctx, d.cancel = context.WithCancel(eventrecorder.WithEventRecording(context.Background()))
	if d.metrics != nil {
		d.metrics.groups.Set(0)
		d.metrics.alertStates.dispatcher.Store(d)
	}
	return d, nil
}

// Run groups the alerts present now, closes LoadingDone, then follows
// every change until ctx ends; then it cancels the flushes in progress and
// waits for them.
func (d *Dispatcher) Run(ctx context.Context) error {
	initial, it := d.alerts.SlurpAndSubscribe("dispatcher")
	defer it.Close()
	for _, a := range initial {
		d.routeAlert(a)
	}
	close(d.loaded)

	// As upstream: a few workers, since routing and grouping take locks
	// that ingest on several cores can share.
	workers := min(max(runtime.GOMAXPROCS(0)/2, 2), 8)
	updates := it.Next()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case a, ok := <-updates:
					if !ok {
						if err := it.Err(); err != nil {
							d.logger.Error("alert subscription ended", "err", err)
						}
						return
					}
					if err := it.Err(); err != nil {
						d.logger.Error("cannot take an alert update", "err", err)
						continue
					}
					d.routeAlert(a.Data)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
	<-ctx.Done()
	d.stop()
	return nil
}

// LoadingDone is closed once the alerts present at Run are grouped.
func (d *Dispatcher) LoadingDone() <-chan struct{} {
	return d.loaded
}

func (d *Dispatcher) stop() {
	d.flushMu.Lock()
	d.stopped = true
	d.flushMu.Unlock()
	d.cancel()
	for _, g := range d.snapshot() {
		g.timer.Stop()
	}
	d.flushes.Wait()
	if d.metrics != nil {
		d.metrics.alertStates.dispatcher.CompareAndSwap(d, nil)
	}
}

// snapshot lists the groups of every route at one moment.
func (d *Dispatcher) snapshot() []*group {
	var out []*group
	for _, rg := range d.routes {
		out = append(out, rg.snapshot()...)
	}
	return out
}

// beginFlush counts a flush in, unless the dispatcher has stopped.
func (d *Dispatcher) beginFlush() bool {
	d.flushMu.RLock()
	defer d.flushMu.RUnlock()
	if d.stopped {
		return false
	}
	d.flushes.Add(1)
	return true
}

func (d *Dispatcher) routeAlert(a *alert.Alert) {
	now := time.Now()
	for _, r := range d.root.Match(a.Labels) {
		d.groupAlert(a, r, now)
	}
	if d.metrics != nil {
		d.metrics.processing.Observe(time.Since(now).Seconds())
	}
}

func (d *Dispatcher) groupAlert(a *alert.Alert, r *dispatch.Route, now time.Time) {
	labels := groupLabels(a, r)
	g, created := d.routes[r.Idx].insert(d, labels, a, now)
	if created {
		n := d.count.Add(1)
		if d.metrics != nil {
			d.metrics.groups.Set(float64(n))
		}
	}
	d.recorder.RecordEvent(d.ctx, func() eventrecorder.EventData {
		return notify.NewAlertGroupedEvent(g.info(), a)
	})
}

func (d *Dispatcher) groupRemoved() {
	n := d.count.Add(-1)
	if d.metrics != nil {
		d.metrics.groups.Set(float64(n))
	}
}

// groupLabels are the alert's labels the route groups by.
func groupLabels(a *alert.Alert, r *dispatch.Route) model.LabelSet {
	if r.RouteOpts.GroupByAll {
		return a.Labels.Clone()
	}
	labels := make(model.LabelSet, len(r.RouteOpts.GroupBy))
	for name := range r.RouteOpts.GroupBy {
		if v, ok := a.Labels[name]; ok {
			labels[name] = v
		}
	}
	return labels
}
