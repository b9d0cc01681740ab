package sender

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAM is a real HTTP server on loopback that decodes and validates each
// request with Alertmanager's own API v2 models, answering with the status
// codes it is told to.
type fakeAM struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int // answers to give, in order; 200 once exhausted
	batches  [][]*models.PostableAlert
	requests int
}

func newFakeAM(t *testing.T, network, addr string, statuses ...int) *fakeAM {
	t.Helper()
	am := &fakeAM{t: t, statuses: statuses}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("cannot listen on %s %s: %v", network, addr, err)
	}
	am.srv = httptest.NewUnstartedServer(http.HandlerFunc(am.serve))
	am.srv.Listener = ln
	am.srv.Start()
	t.Cleanup(am.srv.Close)
	return am
}

func (am *fakeAM) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
		http.Error(w, "wrong endpoint "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	am.mu.Lock()
	defer am.mu.Unlock()
	am.requests++
	if len(am.statuses) > 0 {
		code := am.statuses[0]
		am.statuses = am.statuses[1:]
		if code != http.StatusOK {
			http.Error(w, "told to fail", code)
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	var alerts models.PostableAlerts
	if err := json.Unmarshal(body, &alerts); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := alerts.Validate(strfmt.Default); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	am.batches = append(am.batches, alerts)
}

func (am *fakeAM) received() []*models.PostableAlert {
	am.mu.Lock()
	defer am.mu.Unlock()
	var all []*models.PostableAlert
	for _, b := range am.batches {
		all = append(all, b...)
	}
	return all
}

func (am *fakeAM) waitFor(n int) []*models.PostableAlert {
	am.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := am.received(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	am.t.Fatalf("%s received %d alerts, want %d", am.srv.URL, len(am.received()), n)
	return nil
}

func testAlert(name, instance string) Alert {
	return Alert{
		Labels:      map[string]string{"alertname": name, "instance": instance},
		Annotations: map[string]string{"summary": name + " on " + instance},
		StartsAt:    time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}
}

func startSender(t *testing.T, o Options) (*Sender, *prometheus.Registry, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, reg, stop
}

func TestDeliversToEveryAlertmanagerInBatches(t *testing.T) {
	v4 := newFakeAM(t, "tcp4", "127.0.0.1:0")
	v6 := newFakeAM(t, "tcp6", "[::1]:0")
	s, reg, _ := startSender(t, Options{
		Alertmanagers: []string{v4.srv.URL, v6.srv.URL},
		MaxBatchSize:  10,
	})
	var alerts []Alert
	for i := range 25 {
		alerts = append(alerts, testAlert("InterfaceDown", "sw"+string(rune('a'+i))))
	}
	if err := s.Send(alerts...); err != nil {
		t.Fatal(err)
	}
	for _, am := range []*fakeAM{v4, v6} {
		got := am.waitFor(25)
		if len(got) != 25 {
			t.Errorf("%s got %d alerts, want 25", am.srv.URL, len(got))
		}
		am.mu.Lock()
		for _, b := range am.batches {
			if len(b) > 10 {
				t.Errorf("batch of %d alerts, want at most 10", len(b))
			}
		}
		am.mu.Unlock()
		// The server has the alerts before the sender has its answer.
		deadline := time.Now().Add(5 * time.Second)
		for testutil.ToFloat64(s.metrics.sent.WithLabelValues(am.srv.URL)) != 25 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if v := testutil.ToFloat64(s.metrics.sent.WithLabelValues(am.srv.URL)); v != 25 {
			t.Errorf("kusanagi_sender_alerts_sent_total{alertmanager=%q} = %v, want 25", am.srv.URL, v)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "kusanagi_sender_alerts_sent_total"); err != nil || n != 2 {
		t.Errorf("sent_total series = %d (%v), want one per Alertmanager", n, err)
	}
}

func TestRetriesUntilAlertmanagerRecovers(t *testing.T) {
	am := newFakeAM(t, "tcp4", "127.0.0.1:0", 503, 503, 429, http.StatusOK)
	s, _, _ := startSender(t, Options{
		Alertmanagers: []string{am.srv.URL},
		MinBackoff:    time.Millisecond,
		MaxBackoff:    5 * time.Millisecond,
	})
	if err := s.Send(testAlert("BGPPeerDown", "r1")); err != nil {
		t.Fatal(err)
	}
	got := am.waitFor(1)
	if got[0].Labels["alertname"] != "BGPPeerDown" {
		t.Fatalf("got %v", got[0].Labels)
	}
	if v := testutil.ToFloat64(s.metrics.errors.WithLabelValues(am.srv.URL)); v != 3 {
		t.Errorf("errors_total = %v, want 3 (two 503 and one 429)", v)
	}
	if v := testutil.ToFloat64(s.metrics.dropped.WithLabelValues(am.srv.URL, "rejected")); v != 0 {
		t.Errorf("dropped{rejected} = %v, want 0", v)
	}
}

func TestRetriesWhileAlertmanagerIsUnreachable(t *testing.T) {
	// Reserve a port, close it, send while nothing listens, then listen.
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, _, _ := startSender(t, Options{
		Alertmanagers: []string{"http://" + addr},
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    20 * time.Millisecond,
	})
	if err := s.Send(testAlert("DeviceColdStart", "fd00::7")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	am := newFakeAM(t, "tcp6", addr)
	am.waitFor(1)
	if v := testutil.ToFloat64(s.metrics.errors.WithLabelValues("http://" + addr)); v < 1 {
		t.Errorf("errors_total = %v, want at least one failed attempt", v)
	}
}

func TestRejectedBatchIsDroppedNotRetried(t *testing.T) {
	am := newFakeAM(t, "tcp4", "127.0.0.1:0", http.StatusBadRequest)
	s, _, _ := startSender(t, Options{Alertmanagers: []string{am.srv.URL}, MinBackoff: time.Millisecond})
	s.Send(testAlert("A", "x"))
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.metrics.dropped.WithLabelValues(am.srv.URL, "rejected")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("rejected alert not counted as dropped")
		}
		time.Sleep(time.Millisecond)
	}
	s.Send(testAlert("B", "x"))
	got := am.waitFor(1)
	if len(got) != 1 || got[0].Labels["alertname"] != "B" {
		t.Fatalf("got %v, want only B", got)
	}
}

func TestResolveReplacesQueuedFiring(t *testing.T) {
	am := newFakeAM(t, "tcp4", "127.0.0.1:0")
	s, err := New(Options{Alertmanagers: []string{am.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	firing := testAlert("InterfaceDown", "sw1")
	resolved := firing
	resolved.EndsAt = firing.StartsAt.Add(time.Minute)
	s.Send(firing, testAlert("Other", "sw2"), resolved)
	if n := s.targets[0].queue.len(); n != 2 {
		t.Fatalf("queue holds %d alerts, want 2 (the resolve replaced the firing)", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	got := am.waitFor(2)
	cancel()
	<-done
	if got[0].Labels["alertname"] != "InterfaceDown" || time.Time(got[0].EndsAt).IsZero() {
		t.Fatalf("first alert sent is %v ends %v, want the resolved InterfaceDown in the firing's place", got[0].Labels, got[0].EndsAt)
	}
}

func TestFullQueueDropsOldest(t *testing.T) {
	s, err := New(Options{Alertmanagers: []string{"http://[::1]:1"}, QueueCapacity: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []string{"a", "b", "c", "d", "e"} {
		s.Send(testAlert("A", i))
	}
	batch := s.targets[0].queue.pop(10)
	var got []string
	for _, e := range batch {
		got = append(got, e.alert.Labels["instance"])
	}
	if len(got) != 3 || got[0] != "c" || got[2] != "e" {
		t.Fatalf("queue kept %v, want [c d e]", got)
	}
	if v := testutil.ToFloat64(s.metrics.dropped.WithLabelValues("http://[::1]:1", "queue_full")); v != 2 {
		t.Fatalf("dropped{queue_full} = %v, want 2", v)
	}
}

func TestDrainsQueueAtShutdown(t *testing.T) {
	am := newFakeAM(t, "tcp4", "127.0.0.1:0")
	s, _, stop := startSender(t, Options{Alertmanagers: []string{am.srv.URL}, MaxBatchSize: 1})
	var alerts []Alert
	for _, i := range []string{"a", "b", "c", "d"} {
		alerts = append(alerts, testAlert("A", i))
	}
	s.Send(alerts...)
	stop()
	if got := am.received(); len(got) != 4 {
		t.Fatalf("delivered %d alerts by shutdown, want 4", len(got))
	}
}

func TestInvalidAlertsAreRefused(t *testing.T) {
	s, err := New(Options{Alertmanagers: []string{"http://127.0.0.1:9093"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := []Alert{
		{},
		{Labels: map[string]string{"bad-name": "x"}},
		{Labels: map[string]string{"a": "\xff"}},
		{Labels: map[string]string{"a": "b"}, StartsAt: time.Unix(10, 0), EndsAt: time.Unix(5, 0)},
	}
	for _, a := range bad {
		if err := s.Send(a); err == nil {
			t.Errorf("Send(%v) accepted an alert Alertmanager would reject", a)
		}
	}
	if n := s.targets[0].queue.len(); n != 0 {
		t.Fatalf("queue holds %d alerts, want 0", n)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Alertmanagers: []string{"localhost:9093"}},
		{Alertmanagers: []string{"ftp://x"}},
		{Alertmanagers: []string{"http://a:1", "http://a:1/"}},
		{Alertmanagers: []string{"http://a:1"}, MinBackoff: time.Second, MaxBackoff: time.Millisecond},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
	s, err := New(Options{Alertmanagers: []string{"http://[fd00::1]:9093/am/"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.targets[0].url; got != "http://[fd00::1]:9093/am/api/v2/alerts" {
		t.Fatalf("post URL = %q", got)
	}
}
