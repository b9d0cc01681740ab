package alertstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

type sendResolved struct{}

func (sendResolved) SendResolved() bool { return true }

// countingNotifier counts what reaches the receiver.
type countingNotifier struct{ sent atomic.Int32 }

func (n *countingNotifier) Notify(context.Context, ...*alert.Alert) notify.NotifyVerdict {
	n.sent.Add(1)
	return notify.Success()
}

// startReplica is one replica's coordinator, notification log and
// wrapped receiver on etcd.
func startCoordinated(t *testing.T, endpoints []string, name string) (*Coordinator, *nflog.Log, notify.Integration, *countingNotifier) {
	t.Helper()
	c, err := NewCoordinator(CoordinatorOptions{Client: newClient(t, endpoints), Prefix: "/test/", Name: name, SessionTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-c.Ready()
	log, err := nflog.New(nflog.Options{Retention: time.Hour, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	n := &countingNotifier{}
	integ := c.Wrap(notify.NewIntegration(n, sendResolved{}, "webhook", 0, "hook"), log, "hook")
	return c, log, integ, n
}

// TestAChangeIsClaimedOnceWhateverTheLogSays: two replicas about to send
// the same change name it the same way, whether or not one's notification
// log already shows the other's send: the second sends nothing. Before
// the claim was named by what it says, the replica that had learnt of the
// first send named the change after it, claimed it and sent it again (the
// chaos harness's duplicates after a restart or a cut from etcd).
func TestAChangeIsClaimedOnceWhateverTheLogSays(t *testing.T) {
	e := startEtcd(t)
	_, logA, a, sentA := startCoordinated(t, e.Endpoints(), "a")
	_, logB, b, sentB := startCoordinated(t, e.Endpoints(), "b")
	_, _, c, sentC := startCoordinated(t, e.Endpoints(), "c")
	now := time.Now()
	firing := &alert.Alert{Alert: model.Alert{Labels: model.LabelSet{"alertname": "Fan", "instance": "r1"}, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}}
	ctx := notify.WithGroupKey(context.Background(), "{}:{alertname=\"Fan\"}")
	ctx = notify.WithReceiverName(ctx, "hook")
	ctx = notify.WithRepeatInterval(ctx, time.Hour)
	if v := a.Notify(ctx, firing); v.Err() != nil || sentA.sent.Load() != 1 {
		t.Fatalf("a: %v, sent %d", v.Err(), sentA.sent.Load())
	}
	// What a's pipeline then logs, and b learns through etcd; c has not
	// learnt it yet.
	recv := &nflogpb.Receiver{GroupName: "hook", Integration: "webhook", Idx: 0}
	fp := []uint64{uint64(firing.Fingerprint())}
	for _, l := range []*nflog.Log{logA, logB} {
		if err := l.Log(recv, "{}:{alertname=\"Fan\"}", fp, nil, nil, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if v := b.Notify(ctx, firing); v.Err() != nil || sentB.sent.Load() != 0 {
		t.Fatalf("b, whose log shows a's notification: %v, sent %d", v.Err(), sentB.sent.Load())
	}
	if v := c.Notify(ctx, firing); v.Err() != nil || sentC.sent.Load() != 0 {
		t.Fatalf("c, whose log lags: %v, sent %d", v.Err(), sentC.sent.Load())
	}
	// The alert resolves: a new notification, sent once.
	resolved := &alert.Alert{Alert: model.Alert{Labels: firing.Labels, StartsAt: firing.StartsAt, EndsAt: now.Add(-time.Second)}}
	if v := c.Notify(ctx, resolved); v.Err() != nil || sentC.sent.Load() != 1 {
		t.Fatalf("c, resolve: %v, sent %d", v.Err(), sentC.sent.Load())
	}
	if v := b.Notify(ctx, resolved); v.Err() != nil || sentB.sent.Load() != 0 {
		t.Fatalf("b, resolve: %v, sent %d", v.Err(), sentB.sent.Load())
	}
	// It fires again, a new alert with a new start: sent again, once.
	again := &alert.Alert{Alert: model.Alert{Labels: firing.Labels, StartsAt: now, EndsAt: now.Add(time.Hour)}}
	if err := logB.Log(recv, "{}:{alertname=\"Fan\"}", nil, fp, nil, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	if v := b.Notify(ctx, again); v.Err() != nil || sentB.sent.Load() != 1 {
		t.Fatalf("b, fires again: %v, sent %d", v.Err(), sentB.sent.Load())
	}
	if v := a.Notify(ctx, again); v.Err() != nil || sentA.sent.Load() != 1 {
		t.Fatalf("a, fires again: %v, sent %d", v.Err(), sentA.sent.Load())
	}
}
