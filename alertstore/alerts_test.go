package alertstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/provider"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// etcd's client and embedded server keep process-wide goroutines.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/pkg/v3/schedule.(*fifo).run"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		goleak.IgnoreAnyFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"),
	)
}

func startEtcd(t testing.TB) *Embedded {
	t.Helper()
	e, err := StartEmbedded(EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func newClient(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// replica is one Alerts running on its own etcd client, as one
// Alertmanager replica would.
type replica struct {
	alerts *Alerts
	cancel context.CancelFunc
	done   chan struct{}
}

func startReplica(t testing.TB, endpoints []string, o AlertsOptions) *replica {
	t.Helper()
	o.Client = newClient(t, endpoints)
	if o.Prefix == "" {
		o.Prefix = "/test/"
	}
	a, err := NewAlerts(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{alerts: a, cancel: cancel, done: make(chan struct{})}
	go func() { a.Run(ctx); close(r.done) }()
	select {
	case <-a.Loaded():
	case <-time.After(10 * time.Second):
		t.Fatal("replica did not load within 10s")
	}
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
}

func newAlert(name, instance string, startsAt, endsAt time.Time) *alert.Alert {
	return alert.New(model.Alert{
		Labels:      model.LabelSet{"alertname": model.LabelValue(name), "instance": model.LabelValue(instance)},
		Annotations: model.LabelSet{"summary": "test"},
		StartsAt:    startsAt,
		EndsAt:      endsAt,
	}, time.Now(), false)
}

func TestAlertPostedToOneReplicaIsSeenByOthersWithin100ms(t *testing.T) {
	e := startEtcd(t)
	a := startReplica(t, e.Endpoints(), AlertsOptions{})
	b := startReplica(t, e.Endpoints(), AlertsOptions{})
	c := startReplica(t, e.Endpoints(), AlertsOptions{})

	itB := b.alerts.Subscribe("test")
	defer itB.Close()
	itC := c.alerts.Subscribe("test")
	defer itC.Close()

	// Five alerts one at a time; the median must be within 100ms (one
	// sample on a loaded 2-core CI machine says little).
	var delays []time.Duration
	var last *alert.Alert
	for i := range 5 {
		now := time.Now()
		al := newAlert("InterfaceDown", fmt.Sprintf("fd00::%d", i+1), now, now.Add(time.Hour))
		begin := time.Now()
		if err := a.alerts.Put(context.Background(), al); err != nil {
			t.Fatal(err)
		}
		var slowest time.Duration
		for name, it := range map[string]provider.AlertIterator{"B": itB, "C": itC} {
			select {
			case got := <-it.Next():
				if got.Data.Fingerprint() != al.Fingerprint() || got.Data.Fingerprint() == 0 {
					t.Fatalf("%s got %v", name, got.Data)
				}
				slowest = max(slowest, time.Since(begin))
			case <-time.After(time.Second):
				t.Fatalf("replica %s did not see the alert", name)
			}
		}
		delays = append(delays, slowest)
		last = al
	}
	slices.Sort(delays)
	t.Logf("time until both other replicas saw an alert: %v", delays)
	if median := delays[len(delays)/2]; median > 100*time.Millisecond {
		t.Errorf("median %s until the other replicas saw an alert, want within 100ms", median)
	}
	if got, err := c.alerts.Get(last.Fingerprint()); err != nil || got.Annotations["summary"] != "test" {
		t.Fatalf("Get on C: %v %v", got, err)
	}
}

func TestRestartedReplicaServesEveryAlertAtOnce(t *testing.T) {
	e := startEtcd(t)
	a := startReplica(t, e.Endpoints(), AlertsOptions{})
	now := time.Now()
	var batch []*alert.Alert
	for i := range 1000 {
		batch = append(batch, newAlert("LinkDown", fmt.Sprintf("sw%d", i), now, now.Add(time.Hour)))
	}
	if err := a.alerts.Put(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	a.stop()

	begin := time.Now()
	b := startReplica(t, e.Endpoints(), AlertsOptions{})
	if n := b.alerts.Len(); n != 1000 {
		t.Fatalf("a new replica holds %d alerts once loaded, want 1000", n)
	}
	t.Logf("1000 alerts loaded in %s", time.Since(begin))
	alerts, it := b.alerts.SlurpAndSubscribe("test")
	it.Close()
	if len(alerts) != 1000 {
		t.Fatalf("SlurpAndSubscribe gave %d alerts", len(alerts))
	}
	for _, al := range alerts {
		if al.Fingerprint() == 0 {
			t.Fatal("an alert loaded from etcd has a zero fingerprint")
		}
	}
}

func TestRefreshesAreNotWrittenUntilHalfStale(t *testing.T) {
	e := startEtcd(t)
	a := startReplica(t, e.Endpoints(), AlertsOptions{})
	now := time.Now()
	al := newAlert("TargetDown", "node1", now, now.Add(4*time.Minute))
	if err := a.alerts.Put(context.Background(), al); err != nil {
		t.Fatal(err)
	}
	// A resend a minute of validity later: etcd still has 4m left of 5m.
	again := newAlert("TargetDown", "node1", now, now.Add(5*time.Minute))
	if err := a.alerts.Put(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if w := counterValue(a.alerts.metrics.writes); w != 1 {
		t.Fatalf("%v writes for an alert and a fresh resend, want 1", w)
	}
	got, _ := a.alerts.Get(al.Fingerprint())
	if !got.EndsAt.Equal(again.EndsAt) {
		t.Fatalf("local view endsAt %v, want the resend's %v", got.EndsAt, again.EndsAt)
	}
	// A resolve is always written.
	resolved := newAlert("TargetDown", "node1", now, time.Now().Add(-time.Millisecond))
	if err := a.alerts.Put(context.Background(), resolved); err != nil {
		t.Fatal(err)
	}
	if w := counterValue(a.alerts.metrics.writes); w != 2 {
		t.Fatalf("%v writes after the resolve, want 2", w)
	}
}

func TestConcurrentReplicasConverge(t *testing.T) {
	e := startEtcd(t)
	reps := []*replica{
		startReplica(t, e.Endpoints(), AlertsOptions{}),
		startReplica(t, e.Endpoints(), AlertsOptions{}),
		startReplica(t, e.Endpoints(), AlertsOptions{}),
	}
	start := time.Now().Add(-time.Minute)
	var wg sync.WaitGroup
	for i, r := range reps {
		wg.Go(func() {
			for j := range 20 {
				// Every replica updates the same alerts with its own annotation.
				al := newAlert("Flap", fmt.Sprintf("sw%d", j%5), start, time.Now().Add(time.Hour))
				al.Annotations = model.LabelSet{"by": model.LabelValue(fmt.Sprint(i)), "n": model.LabelValue(fmt.Sprint(j))}
				al.UpdatedAt = time.Now()
				if err := r.alerts.Put(context.Background(), al); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// Every replica ends with what etcd holds.
	resp, err := reps[0].alerts.opts.Client.Get(context.Background(), "/test/alerts/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 5 {
		t.Fatalf("etcd holds %d alerts, want 5", len(resp.Kvs))
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, kv := range resp.Kvs {
		want, _ := decodeAlert(kv.Value)
		for i, r := range reps {
			for {
				got, err := r.alerts.Get(want.Fingerprint())
				if err == nil && got.Annotations.Equal(want.Annotations) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("replica %d has %v, etcd has %v", i, got, want)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
}

func TestGCDeletesResolvedAlertsEverywhere(t *testing.T) {
	e := startEtcd(t)
	a := startReplica(t, e.Endpoints(), AlertsOptions{})
	b := startReplica(t, e.Endpoints(), AlertsOptions{})
	now := time.Now()
	firing := newAlert("A", "x", now, now.Add(time.Hour))
	resolved := newAlert("B", "y", now.Add(-time.Hour), now.Add(-time.Minute))
	if err := a.alerts.Put(context.Background(), firing, resolved); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.alerts.Len() == 2 })
	a.alerts.GC(context.Background())
	waitFor(t, func() bool { return a.alerts.Len() == 1 && b.alerts.Len() == 1 })
	resp, _ := a.alerts.opts.Client.Get(context.Background(), "/test/alerts/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if resp.Count != 1 {
		t.Fatalf("etcd holds %d alerts after GC, want 1", resp.Count)
	}
}

func TestPutFailsClearlyWhenEtcdIsDown(t *testing.T) {
	e, err := StartEmbedded(EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, e.Endpoints(), AlertsOptions{WriteTimeout: 500 * time.Millisecond})
	e.Close()
	now := time.Now()
	err = a.alerts.Put(context.Background(), newAlert("A", "x", now, now.Add(time.Hour)))
	if err == nil || !strings.Contains(err.Error(), "cannot store alerts in etcd") {
		t.Fatalf("Put with etcd down: %v", err)
	}
	if a.alerts.Len() != 0 {
		t.Fatal("an alert that could not be stored is served")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestLoadReadsEveryKeyUnderThePrefix: the sixteen ranges a load reads
// cover the whole prefix, keys that are no fingerprint included, and an
// undecodable value is skipped without losing the others.
func TestLoadReadsEveryKeyUnderThePrefix(t *testing.T) {
	e := startEtcd(t)
	client := newClient(t, e.Endpoints())
	now := time.Now()
	ctx := context.Background()
	keys := []string{"", "/", "0", "0000000000000000", "1", "9zz", "a", "f", "ffffffffffffffff", "g", "~~"}
	for i, k := range keys {
		v, err := encodeAlert(newAlert("Stray", fmt.Sprint(i), now, now.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Put(ctx, "/test/alerts/"+k, string(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Put(ctx, "/test/alerts/5-corrupt", "\x01\x00garbage"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Put(ctx, "/test/alertsX", "outside the prefix"); err != nil {
		t.Fatal(err)
	}
	a, err := NewAlerts(AlertsOptions{Client: client, Prefix: "/test/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Len() != len(keys) {
		t.Fatalf("loaded %d alerts, want %d", a.Len(), len(keys))
	}
}

// TestSubscriberSeesOnlyWhatItKeeps: a filtered subscriber gets the
// matching alerts, already stored and stored later, and no other.
func TestSubscriberSeesOnlyWhatItKeeps(t *testing.T) {
	e := startEtcd(t)
	a := startReplica(t, e.Endpoints(), AlertsOptions{})
	now := time.Now()
	ctx := context.Background()
	if err := a.alerts.Put(ctx, newAlert("Keep", "old", now, now.Add(time.Hour)), newAlert("Drop", "old", now, now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	initial, it := a.alerts.SlurpAndSubscribeMatching("test", func(al *alert.Alert) bool { return al.Name() == "Keep" })
	defer it.Close()
	if len(initial) != 1 || initial[0].Name() != "Keep" {
		t.Fatalf("initial alerts = %v, want the Keep one", initial)
	}
	if err := a.alerts.Put(ctx, newAlert("Drop", "new", now, now.Add(time.Hour)), newAlert("Keep", "new", now, now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-it.Next():
		if got.Data.Name() != "Keep" || got.Data.Labels["instance"] != "new" {
			t.Fatalf("got %v, want the new Keep alert", got.Data.Labels)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the new Keep alert was not delivered")
	}
	select {
	case got := <-it.Next():
		t.Fatalf("got %v as well", got.Data.Labels)
	case <-time.After(100 * time.Millisecond):
	}
}
