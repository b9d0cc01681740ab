package grouping

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/marker"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// nilRecorder records nothing, as a Recorder made without an output.
var nilRecorder eventrecorder.Recorder

// flushed is what one flush handed the pipeline, without what differs
// between two runs (times, the group's random ID).
type flushed struct {
	Receiver, GroupKey string
	GroupLabels        model.LabelSet
	RouteLabels        model.LabelSet
	FlushID            uint64
	RepeatInterval     time.Duration
	Alerts             []string // alertname/instance and whether firing, in the order sent
}

// recordingStage is the end of a pipeline: it keeps every flush, marks the
// alerts it is given as the silencer would (an alert labelled
// silenced="yes" as silenced, the others as not), and fails while told to.
type recordingStage struct {
	mu      sync.Mutex
	flushes []flushed
	failing bool
}

func (s *recordingStage) Exec(ctx context.Context, _ *slog.Logger, alerts ...*alert.Alert) (context.Context, []*alert.Alert, error) {
	f := flushed{}
	f.Receiver, _ = notify.ReceiverName(ctx)
	f.GroupKey, _ = notify.GroupKey(ctx)
	f.GroupLabels, _ = notify.GroupLabels(ctx)
	f.RouteLabels, _ = notify.RouteLabels(ctx)
	f.FlushID, _ = notify.FlushID(ctx)
	f.RepeatInterval, _ = notify.RepeatInterval(ctx)
	m, _ := marker.FromContext(ctx)
	now, _ := notify.Now(ctx)
	for _, a := range alerts {
		state := "firing"
		if a.ResolvedAt(now) {
			state = "resolved"
		}
		f.Alerts = append(f.Alerts, fmt.Sprintf("%s/%s %s", a.Labels["alertname"], a.Labels["instance"], state))
		var by []string
		if a.Labels["silenced"] == "yes" {
			by = []string{"a-silence"}
		}
		m.SetSilenced(a.Fingerprint(), by)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes = append(s.flushes, f)
	if s.failing {
		return ctx, nil, errors.New("receiver down")
	}
	return ctx, alerts, nil
}

func (s *recordingStage) setFailing(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = v
}

// sorted returns the flushes by group, in the order each group sent them.
func (s *recordingStage) sorted() []flushed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.flushes)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Receiver != out[j].Receiver {
			return out[i].Receiver < out[j].Receiver
		}
		return out[i].GroupKey < out[j].GroupKey
	})
	return out
}

func (s *recordingStage) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.flushes)
}

const routingConfig = `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 400ms
  repeat_interval: 1h
  labels:
    team: '{{ .CommonLabels.team }}'
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: [alertname, instance]
      continue: true
    - matchers: ['team="db"']
      receiver: everything
      group_by: ['...']
      repeat_interval: 2h
receivers: [{name: default}, {name: db}, {name: everything}]
`

func loadRoute(t testing.TB, yaml string) (*dispatch.Route, *template.Template) {
	t.Helper()
	conf, err := config.Load(yaml)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.FromGlobs(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://[::1]:9093")
	return dispatch.NewRoute(conf.Route, nil), tmpl
}

// defaultRoute is a root route to receiver "default" with these settings.
func defaultRoute(t testing.TB, settings ...string) *dispatch.Route {
	t.Helper()
	route, _ := loadRoute(t, "route:\n  receiver: default\n  "+strings.Join(settings, "\n  ")+"\nreceivers: [{name: default}]\n")
	return route
}

func newProvider(t testing.TB) *mem.Alerts {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	alerts, err := mem.NewAlerts(ctx, time.Hour, 0, nil, quiet, nilRecorder, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		alerts.Close()
		cancel()
	})
	return alerts
}

func firing(name, instance, team string, startsAt time.Time, extra ...string) *alert.Alert {
	labels := model.LabelSet{"alertname": model.LabelValue(name), "instance": model.LabelValue(instance), "team": model.LabelValue(team)}
	for i := 0; i+1 < len(extra); i += 2 {
		labels[model.LabelName(extra[i])] = model.LabelValue(extra[i+1])
	}
	return alert.New(model.Alert{Labels: labels, StartsAt: startsAt, EndsAt: time.Now().Add(time.Hour)}, startsAt, false)
}

func resolved(a *alert.Alert, at time.Time) *alert.Alert {
	m := a.Alert
	m.EndsAt = at
	return alert.New(m, at, false)
}

// startOurs runs a Dispatcher until the test ends.
func startOurs(t *testing.T, o Options) *Dispatcher {
	t.Helper()
	d, stop := runOurs(t, o)
	t.Cleanup(func() { <-stop() })
	return d
}

// runOurs runs a Dispatcher that has grouped its first alerts; stop ends
// its Run, and the channel it returns is closed when Run has returned.
func runOurs(t *testing.T, o Options) (d *Dispatcher, stop func() <-chan struct{}) {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	<-d.LoadingDone()
	return d, func() <-chan struct{} {
		cancel()
		return done
	}
}

func eventually(t *testing.T, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for _, s := range state {
				t.Log(s())
			}
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFlushesAsUpstream runs upstream's dispatcher and this one on the
// same alerts and routes, and compares what each hands the pipeline, what
// each answers for the API's groups, and their alertmanager_alerts series.
func TestFlushesAsUpstream(t *testing.T) {
	for _, groupKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("group key in metrics %v", groupKey), func(t *testing.T) { testFlushesAsUpstream(t, groupKey) })
	}
}

func testFlushesAsUpstream(t *testing.T, groupKey bool) {
	var flags featurecontrol.Flagger = featurecontrol.NoopFlags{}
	if groupKey {
		var err error
		if flags, err = featurecontrol.NewFlags(quiet, featurecontrol.FeatureGroupKeyInMetrics); err != nil {
			t.Fatal(err)
		}
	}
	route, tmpl := loadRoute(t, routingConfig)
	alerts := newProvider(t)
	now := time.Now()
	initial := []*alert.Alert{
		firing("DiskFull", "db1", "db", now),
		firing("DiskFull", "db2", "db", now, "silenced", "yes"),
		firing("Down", "web1", "web", now),
		firing("Down", "web2", "web", now),
		firing("Old", "web3", "web", now.Add(-time.Hour)),
	}
	if err := alerts.Put(context.Background(), initial...); err != nil {
		t.Fatal(err)
	}

	upstreamStage, ourStage := &recordingStage{}, &recordingStage{}
	upstreamReg, ourReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	upstream := dispatch.NewDispatcher(alerts, route, upstreamStage, nil, nil, time.Minute, nil, quiet, nilRecorder,
		dispatch.NewDispatcherMetrics(false, upstreamReg, flags), tmpl)
	go upstream.Run(time.Now())
	t.Cleanup(upstream.Stop)
	upstream.WaitForLoading()
	ours := startOurs(t, Options{Alerts: alerts, Route: route, Stage: ourStage, Template: tmpl, Logger: quiet, Metrics: NewMetrics(ourReg, groupKey)})

	// default: DiskFull, Down, Old; db: DiskFull/db1, DiskFull/db2;
	// everything: one group per db alert.
	const groups = 7
	eventually(t, "every group's first flush", func() bool { return upstreamStage.count() == groups && ourStage.count() == groups },
		func() string { return fmt.Sprintf("upstream %+v\nours %+v", upstreamStage.sorted(), ourStage.sorted()) })
	compareFlushes(t, upstreamStage, ourStage)
	compareGroups(t, upstream, ours)
	compareAlertStates(t, upstreamReg, ourReg)

	// One alert resolves, one is new in an existing group: the next flush
	// of both groups carries them, after group_interval.
	later := time.Now()
	if err := alerts.Put(context.Background(), resolved(initial[2], later), firing("Down", "web4", "web", later)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second flush of every group", func() bool {
		return upstreamStage.count() >= 2*groups && ourStage.count() >= 2*groups
	})
	time.Sleep(50 * time.Millisecond)
	compareFlushes(t, upstreamStage, ourStage)
	compareGroups(t, upstream, ours)
	compareAlertStates(t, upstreamReg, ourReg)
}

func compareFlushes(t *testing.T, upstream, ours *recordingStage) {
	t.Helper()
	want, got := upstream.sorted(), ours.sorted()
	// A group flushes every group_interval for as long as it has alerts:
	// compare the flushes both have made.
	n := min(len(want), len(got))
	if len(want) != len(got) {
		t.Logf("upstream flushed %d times, this dispatcher %d; comparing each group's common flushes", len(want), len(got))
		want, got = commonFlushes(want, got), commonFlushes(got, want)
		n = len(want)
	}
	for i := range n {
		if fmt.Sprint(want[i]) != fmt.Sprint(got[i]) {
			t.Errorf("flush %d:\n upstream %+v\n     ours %+v", i, want[i], got[i])
		}
	}
}

// commonFlushes keeps, of each group's flushes in a, as many as b has.
func commonFlushes(a, b []flushed) []flushed {
	count := map[string]int{}
	for _, f := range b {
		count[f.Receiver+f.GroupKey]++
	}
	var out []flushed
	for _, f := range a {
		if count[f.Receiver+f.GroupKey] > 0 {
			count[f.Receiver+f.GroupKey]--
			out = append(out, f)
		}
	}
	return out
}

func compareGroups(t *testing.T, upstream *dispatch.Dispatcher, ours *Dispatcher) {
	t.Helper()
	all := func(*dispatch.Route) bool { return true }
	unsilenced := func(a *alert.Alert, _ time.Time) (alert.AlertStatus, bool) {
		if a.Labels["silenced"] == "yes" {
			return alert.AlertStatus{}, false
		}
		return alert.AlertStatus{State: alert.AlertStateActive}, true
	}
	wantGroups, wantReceivers, err := upstream.Groups(context.Background(), all, unsilenced)
	if err != nil {
		t.Fatal(err)
	}
	gotGroups, gotReceivers, err := ours.Groups(context.Background(), all, unsilenced)
	if err != nil {
		t.Fatal(err)
	}
	if describeGroups(wantGroups) != describeGroups(gotGroups) {
		t.Errorf("groups:\n upstream %s\n     ours %s", describeGroups(wantGroups), describeGroups(gotGroups))
	}
	if fmt.Sprint(wantReceivers) != fmt.Sprint(gotReceivers) {
		t.Errorf("receivers by alert:\n upstream %v\n     ours %v", wantReceivers, gotReceivers)
	}
}

func describeGroups(groups dispatch.AlertGroups) string {
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "\n  %s %s labels=%v route=%v statuses=%d muted=%v:", g.Receiver, g.GroupKey, g.Labels, g.RouteLabels, len(g.AlertStatuses), g.MutedBy())
		for _, a := range g.Alerts {
			fmt.Fprintf(&b, " %s", a.Labels)
		}
	}
	return b.String()
}

func compareAlertStates(t *testing.T, upstream, ours prometheus.Gatherer) {
	t.Helper()
	want, got := alertStateSeries(t, upstream), alertStateSeries(t, ours)
	if want == "" {
		t.Fatal("upstream's dispatcher has no alertmanager_alerts series")
	}
	if want != got {
		t.Errorf("alertmanager_alerts:\nupstream\n%s\nours\n%s", want, got)
	}
}

func TestAResolvedAlertLeavesAfterASuccessfulFlushOnly(t *testing.T) {
	route := defaultRoute(t, "group_by: [alertname]", "group_wait: 20ms", "group_interval: 100ms")
	alerts := newProvider(t)
	stage := &recordingStage{failing: true}
	reg := prometheus.NewRegistry()
	d := startOurs(t, Options{Alerts: alerts, Route: route, Stage: stage, Logger: quiet, Metrics: NewMetrics(reg, false)})

	start := time.Now()
	a := firing("Down", "web1", "web", start)
	if err := alerts.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a first flush", func() bool { return stage.count() >= 1 })
	if err := alerts.Put(context.Background(), resolved(a, time.Now())); err != nil {
		t.Fatal(err)
	}
	// The receiver fails: the resolved alert stays, and the group tries
	// again every group_interval.
	eventually(t, "two flushes of the resolved alert", func() bool {
		n := 0
		for _, f := range stage.sorted() {
			if slices.Equal(f.Alerts, []string{"Down/web1 resolved"}) {
				n++
			}
		}
		return n >= 2
	})
	if got := testutil.ToFloat64(d.metrics.groups); got != 1 {
		t.Fatalf("alertmanager_dispatcher_aggregation_groups = %v while the resolve is unsent, want 1", got)
	}
	stage.setFailing(false)
	eventually(t, "the group to go once its resolve is sent", func() bool { return testutil.ToFloat64(d.metrics.groups) == 0 })
	groups, _, err := d.Groups(context.Background(), func(*dispatch.Route) bool { return true },
		func(*alert.Alert, time.Time) (alert.AlertStatus, bool) { return alert.AlertStatus{}, true })
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Fatalf("groups after the resolve was sent: %s", describeGroups(groups))
	}
	sent := stage.count()
	time.Sleep(300 * time.Millisecond)
	if stage.count() != sent {
		t.Fatalf("a removed group flushed again: %d flushes, then %d", sent, stage.count())
	}

	// The same alert firing again makes a new group, which waits
	// group_wait and starts counting its flushes from 1.
	if err := alerts.Put(context.Background(), firing("Down", "web1", "web", time.Now())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new group's flush", func() bool { return stage.count() == sent+1 })
	if f := stage.sorted()[sent]; f.FlushID != 1 || !slices.Equal(f.Alerts, []string{"Down/web1 firing"}) {
		t.Fatalf("the new group's first flush: %+v", f)
	}
}

func TestAnAlertOlderThanGroupWaitFlushesAtOnce(t *testing.T) {
	route := defaultRoute(t, "group_by: [alertname]", "group_wait: 1h")
	alerts := newProvider(t)
	stage := &recordingStage{}
	startOurs(t, Options{Alerts: alerts, Route: route, Stage: stage, Logger: quiet})
	now := time.Now()
	if err := alerts.Put(context.Background(), firing("Fresh", "a", "web", now), firing("Old", "b", "web", now.Add(-2*time.Hour))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the old alert's flush", func() bool { return stage.count() == 1 })
	time.Sleep(100 * time.Millisecond)
	if got := stage.sorted(); len(got) != 1 || got[0].GroupLabels["alertname"] != "Old" {
		t.Fatalf("flushes: %+v, want only the old alert's group", got)
	}
}

// TestAWaitingGroupHoldsNoGoroutine is why this dispatcher exists:
// upstream's holds one goroutine per aggregation group.
func TestAWaitingGroupHoldsNoGoroutine(t *testing.T) {
	route := defaultRoute(t, "group_by: [instance]", "group_wait: 1h")
	alerts := newProvider(t)
	const n = 10000
	now := time.Now()
	batch := make([]*alert.Alert, n)
	for i := range batch {
		batch[i] = firing("Down", fmt.Sprint("host", i), "web", now)
	}
	if err := alerts.Put(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	reg := prometheus.NewRegistry()
	d := startOurs(t, Options{Alerts: alerts, Route: route, Stage: &recordingStage{}, Logger: quiet, Metrics: NewMetrics(reg, false)})
	if got := testutil.ToFloat64(d.metrics.groups); got != n {
		t.Fatalf("alertmanager_dispatcher_aggregation_groups = %v, want %d", got, n)
	}
	if after := runtime.NumGoroutine(); after-before > 50 {
		t.Fatalf("%d goroutines before, %d with %d waiting groups", before, after, n)
	}
}

func TestNewNamesWhatIsMissing(t *testing.T) {
	route := defaultRoute(t)
	full := Options{Alerts: newProvider(t), Route: route, Stage: &recordingStage{}, Logger: quiet}
	for name, clear := range map[string]func(*Options){
		"Alerts": func(o *Options) { o.Alerts = nil },
		"Route":  func(o *Options) { o.Route = nil },
		"Stage":  func(o *Options) { o.Stage = nil },
		"Logger": func(o *Options) { o.Logger = nil },
	} {
		o := full
		clear(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), "Options."+name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
	if _, err := New(full); err != nil {
		t.Fatal(err)
	}
}

func alertStateSeries(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		if f.GetName() != "alertmanager_alerts" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&b, "%s=%s ", l.GetName(), l.GetValue())
			}
			fmt.Fprintf(&b, "%v\n", m.GetGauge().GetValue())
		}
	}
	return b.String()
}

// blockingStage holds every flush until its context ends, and says why
// it ended.
type blockingStage struct {
	started chan struct{}
	ended   chan error
}

func (s *blockingStage) Exec(ctx context.Context, _ *slog.Logger, alerts ...*alert.Alert) (context.Context, []*alert.Alert, error) {
	s.started <- struct{}{}
	<-ctx.Done()
	s.ended <- ctx.Err()
	return ctx, nil, ctx.Err()
}

func TestStoppingCancelsTheFlushInProgress(t *testing.T) {
	route := defaultRoute(t, "group_by: [alertname]", "group_wait: 10ms")
	alerts := newProvider(t)
	stage := &blockingStage{started: make(chan struct{}, 1), ended: make(chan error, 1)}
	_, stop := runOurs(t, Options{Alerts: alerts, Route: route, Stage: stage, Logger: quiet})
	if err := alerts.Put(context.Background(), firing("Down", "web1", "web", time.Now())); err != nil {
		t.Fatal(err)
	}
	<-stage.started
	select {
	case <-stop():
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context's end")
	}
	// Run returns only after the flush it cancelled has ended.
	select {
	case err := <-stage.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the flush ended with %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Run returned while a flush was still in progress")
	}
}
