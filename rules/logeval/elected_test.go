package logeval

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kusanagi-dev/kusanagi/alertstore"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// electedHarness is an embedded etcd and a log store shared by evaluator
// replicas that elect a leader, each with its own etcd client.
type electedHarness struct {
	t     *testing.T
	etcd  *alertstore.Embedded
	store *embedded.Store
	cat   *rules.Catalogue
}

func newElectedHarness(t *testing.T, window string) *electedHarness {
	t.Helper()
	etcd, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)
	c, errs := rules.Parse(rules.File{Name: "c.yml", Src: []byte(`alerts:
  - name: Burst
    severity: minor
    summary: burst
    logs:
      - query: 'event.code:BURST'
        every: 1s
        window: ` + window + `
`)})
	if errs != nil {
		t.Fatal(errs)
	}
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &electedHarness{t: t, etcd: etcd, store: store, cat: c}
}

// electedReplica is one evaluator taking part in the election.
type electedReplica struct {
	sent   *captured
	client *clientv3.Client
	stop   func() // cancel and wait, as a clean shutdown does
}

func (h *electedHarness) start(name string) *electedReplica {
	h.t.Helper()
	client, err := clientv3.New(clientv3.Config{Endpoints: h.etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		h.t.Fatal(err)
	}
	r := &electedReplica{sent: &captured{}, client: client}
	ev, err := New(Options{Catalogue: func() *rules.Catalogue { return h.cat }, Store: h.store, Sender: r.sent,
		State: &EtcdState{Client: client, Prefix: "/test/rules/"}})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		RunElected(ctx, ev, client, "/test/rules/", name, 2*time.Second, slog.New(slog.DiscardHandler))
		close(done)
	}()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done; client.Close() }) }
	h.t.Cleanup(r.stop)
	return r
}

func (h *electedHarness) burst() {
	h.t.Helper()
	if err := h.store.Write(context.Background(), []logs.Record{{Timestamp: time.Now(), HostIP: "192.0.2.9", Message: "x", Fields: map[string]string{"event.code": "BURST"}}}); err != nil {
		h.t.Fatal(err)
	}
}

// firstFiring waits for r to send a firing alert and returns it.
func firstFiring(t *testing.T, r *electedReplica) sender.Alert {
	t.Helper()
	var firing sender.Alert
	waitFor(t, 5*time.Second, func() bool {
		for _, a := range r.sent.take() {
			firing = a
		}
		return !firing.StartsAt.IsZero()
	})
	return firing
}

// continuesAndResolves waits for r to resolve the alert, checking that it
// never fires it anew, and returns when it first sent anything.
func continuesAndResolves(t *testing.T, r *electedReplica, firing sender.Alert) time.Time {
	t.Helper()
	var first time.Time
	waitFor(t, 15*time.Second, func() bool {
		for _, a := range r.sent.take() {
			if first.IsZero() {
				first = time.Now()
			}
			if !a.StartsAt.Equal(firing.StartsAt) {
				t.Fatalf("the new leader fired again: startsAt %v, first firing %v", a.StartsAt, firing.StartsAt)
			}
			if !a.EndsAt.After(time.Now()) {
				return true // the resolve
			}
		}
		return false
	})
	return first
}

// TestLeaderHandoverKeepsState runs two evaluators elected through etcd:
// the leader fires, stops, and the other continues the same alert (same
// startsAt: no second firing) and resolves it when the lines age out.
func TestLeaderHandoverKeepsState(t *testing.T) {
	h := newElectedHarness(t, "4s")
	a := h.start("a")
	time.Sleep(300 * time.Millisecond)
	b := h.start("b")
	h.burst()
	firing := firstFiring(t, a)
	a.stop()
	if got := b.sent.take(); len(got) != 0 {
		t.Fatalf("the follower sent while not leading: %+v", got)
	}
	continuesAndResolves(t, b, firing)
	if len(a.sent.take()) != 0 {
		t.Fatal("the old leader sent after stopping")
	}
}

// TestLeaderCrashFailover crashes the leader (its etcd connection closes,
// it never resigns): the other replica takes over once the leader's
// session lease expires, continues the alert and resolves it.
func TestLeaderCrashFailover(t *testing.T) {
	h := newElectedHarness(t, "6s")
	a := h.start("a")
	time.Sleep(300 * time.Millisecond)
	b := h.start("b")
	h.burst()
	firing := firstFiring(t, a)
	crashed := time.Now()
	a.client.Close() // the leader's link dies; it cannot resign
	first := continuesAndResolves(t, b, firing)
	t.Logf("failover after a crash: the other replica sent %s after the crash (session TTL 2s, every 1s)", first.Sub(crashed))
	if first.Sub(crashed) > 2*time.Second+2*time.Second {
		t.Errorf("failover took %s, want at most the session TTL plus one interval and slack", first.Sub(crashed))
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
