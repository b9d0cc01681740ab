package amfork

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/api"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/config/receiver"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"

	"github.com/kusanagi-dev/kusanagi/alertstore"
	"github.com/kusanagi-dev/kusanagi/amfork/grouping"
)

// reloader rebuilds what depends on the configuration (templates, routes,
// receivers, pipeline, inhibitor, dispatcher) on every apply, as
// upstream's app does, with one difference: every receiver integration is
// wrapped so that it claims each notification in etcd before sending.
type reloader struct {
	alerts            *alertstore.Alerts
	apih              *api.API
	coord             *alertstore.Coordinator
	dispatcherMetrics *grouping.Metrics
	recorder          eventrecorder.Recorder
	externalURL       *url.URL
	logger            *slog.Logger
	notificationLog   notify.NotificationLog
	pipelineBuilder   *notify.PipelineBuilder
	silencer          *silence.Silencer
	waitFunc          func() time.Duration
	timeoutFunc       func(time.Duration) time.Duration
	peer              notify.Peer
	post              *postAlerts

	dispatcher atomic.Pointer[runningDispatcher]
	inhibitor  atomic.Pointer[inhibit.Inhibitor]

	// apiReady is closed once the API has its configuration: it can serve
	// the (already loaded) alerts and silences while the dispatcher, which
	// takes seconds to group 100k alerts, is still loading.
	apiReady     chan struct{}
	apiReadyOnce sync.Once
}

func (r *reloader) groups(ctx context.Context, routeFilter func(*dispatch.Route) bool, alertFilter dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
	d := r.dispatcher.Load()
	if d == nil {
		return nil, nil, errors.New("alert groups are still loading")
	}
	return d.Groups(ctx, routeFilter, alertFilter)
}

// runningDispatcher is a dispatcher with the means to stop it.
type runningDispatcher struct {
	*grouping.Dispatcher
	cancel context.CancelFunc
	done   chan struct{}
}

func (d *runningDispatcher) stop() {
	d.cancel()
	<-d.done
}

func (r *reloader) reload(conf *config.Config) error {
	tmpl, err := template.FromGlobs(conf.Templates)
	if err != nil {
		return fmt.Errorf("failed to parse templates: %w", err)
	}
	tmpl.ExternalURL = r.externalURL

	routes := dispatch.NewRoute(conf.Route, nil)
	active := make(map[string]struct{})
	routes.Walk(func(rt *dispatch.Route) { active[rt.RouteOpts.Receiver] = struct{}{} })

	receivers := make(map[string][]notify.Integration, len(active))
	for _, rcv := range conf.Receivers {
		if _, ok := active[rcv.Name]; !ok {
			continue
		}
		integrations, err := receiver.BuildReceiverIntegrations(rcv, tmpl, r.logger)
		if err != nil {
			return err
		}
		for i := range integrations {
			integrations[i] = r.coord.Wrap(integrations[i], r.notificationLog, rcv.Name)
		}
		receivers[rcv.Name] = integrations
	}

	intervals := make(map[string][]timeinterval.TimeInterval, len(conf.MuteTimeIntervals)+len(conf.TimeIntervals))
	for _, ti := range conf.MuteTimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	intervener := timeinterval.NewIntervener(intervals)

	if old := r.inhibitor.Load(); old != nil {
		old.Stop()
	}
	if old := r.dispatcher.Load(); old != nil {
		old.stop()
	}
	newInhibitor := inhibit.NewInhibitor(newInhibitSources(r.alerts, conf.InhibitRules), conf.InhibitRules, r.logger, r.recorder)
	pipeline := r.pipelineBuilder.New(receivers, r.waitFunc, newInhibitor, r.silencer, intervener, r.notificationLog, r.peer)
	r.apih.Update(conf, func(ctx context.Context, labels labelset.LabelSet) {
		if i := r.inhibitor.Load(); i != nil {
			i.Mutes(ctx, labels)
		}
		r.silencer.Mutes(ctx, labels)
	})
	r.post.resolveTimeout.Store(int64(conf.Global.ResolveTimeout))
	r.apiReadyOnce.Do(func() { close(r.apiReady) })
	d, err := grouping.New(grouping.Options{
		Alerts: r.alerts, Route: routes, Stage: pipeline, TimeMuter: intervener, Timeout: r.timeoutFunc,
		Template: tmpl, Recorder: r.recorder, Metrics: r.dispatcherMetrics, Logger: r.logger,
	})
	if err != nil {
		return err
	}

	go newInhibitor.Run()
	newInhibitor.WaitForLoading()
	r.inhibitor.Store(newInhibitor)
	ctx, cancel := context.WithCancel(context.Background())
	newDispatcher := &runningDispatcher{Dispatcher: d, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(newDispatcher.done)
		_ = d.Run(ctx)
	}()
	<-d.LoadingDone()
	r.dispatcher.Store(newDispatcher)
	return nil
}

func (r *reloader) stop() {
	if i := r.inhibitor.Load(); i != nil {
		i.Stop()
	}
	if d := r.dispatcher.Load(); d != nil {
		d.stop()
	}
}
