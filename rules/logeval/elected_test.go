package logeval

import (
	"context"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kusanagi-dev/kusanagi/alertstore"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// TestLeaderHandoverKeepsState runs two evaluators elected through etcd:
// the leader fires, stops, and the other continues the same alert (same
// startsAt: no second firing) and resolves it when the lines age out.
func TestLeaderHandoverKeepsState(t *testing.T) {
	etcd, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	client, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, errs := rules.Parse(rules.File{Name: "c.yml", Src: []byte(`alerts:
  - name: Burst
    severity: minor
    summary: burst
    logs:
      - query: 'event.code:BURST'
        every: 1s
        window: 4s
        group_by: [host.ip]
`)})
	if errs != nil {
		t.Fatal(errs)
	}
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	start := func(name string) (*captured, context.CancelFunc, chan struct{}) {
		sent := &captured{}
		ev, err := New(Options{Catalogue: func() *rules.Catalogue { return c }, Store: store, Sender: sent,
			State: &EtcdState{Client: client, Prefix: "/test/rules/"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			RunElected(ctx, ev, client, "/test/rules/", name, 2*time.Second, slog.New(slog.DiscardHandler))
			close(done)
		}()
		return sent, cancel, done
	}
	sentA, stopA, doneA := start("a")
	time.Sleep(300 * time.Millisecond)
	sentB, stopB, doneB := start("b")
	defer func() { stopB(); <-doneB }()

	if err := store.Write(context.Background(), []logs.Record{{Timestamp: time.Now(), HostIP: "192.0.2.9", Message: "x", Fields: map[string]string{"event.code": "BURST"}}}); err != nil {
		t.Fatal(err)
	}
	var firing sender.Alert
	waitFor(t, 5*time.Second, func() bool {
		for _, a := range sentA.take() {
			firing = a
		}
		return !firing.StartsAt.IsZero()
	})
	stopA()
	<-doneA
	if got := sentB.take(); len(got) != 0 {
		t.Fatalf("the follower sent while not leading: %+v", got)
	}
	var fromB []sender.Alert
	waitFor(t, 10*time.Second, func() bool {
		fromB = append(fromB, sentB.take()...)
		for _, a := range fromB {
			if !a.EndsAt.After(time.Now()) {
				return true // the resolve
			}
		}
		return false
	})
	for _, a := range fromB {
		if !a.StartsAt.Equal(firing.StartsAt) {
			t.Fatalf("the new leader fired again (startsAt %v, first firing %v)", a.StartsAt, firing.StartsAt)
		}
	}
	if len(sentA.take()) != 0 {
		t.Fatal("the old leader sent after stopping")
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

// TestLeaderCrashFailover crashes the leader (its etcd connection closes,
// it never resigns): the other replica takes over once the leader's
// session lease expires, continues the alert and resolves it.
func TestLeaderCrashFailover(t *testing.T) {
	etcd, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	c, errs := rules.Parse(rules.File{Name: "c.yml", Src: []byte(`alerts:
  - name: Burst
    severity: minor
    summary: burst
    logs:
      - query: 'event.code:BURST'
        every: 1s
        window: 6s
`)})
	if errs != nil {
		t.Fatal(errs)
	}
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	start := func(name string) (*captured, *clientv3.Client, context.CancelFunc, chan struct{}) {
		client, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sent := &captured{}
		ev, err := New(Options{Catalogue: func() *rules.Catalogue { return c }, Store: store, Sender: sent,
			State: &EtcdState{Client: client, Prefix: "/crash/"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			RunElected(ctx, ev, client, "/crash/", name, 2*time.Second, slog.New(slog.DiscardHandler))
			close(done)
		}()
		return sent, client, cancel, done
	}
	sentA, clientA, stopA, doneA := start("a")
	time.Sleep(300 * time.Millisecond)
	sentB, clientB, stopB, doneB := start("b")
	defer func() { stopB(); <-doneB; clientB.Close() }()

	store.Write(context.Background(), []logs.Record{{Timestamp: time.Now(), Message: "x", Fields: map[string]string{"event.code": "BURST"}}})
	var firing sender.Alert
	waitFor(t, 5*time.Second, func() bool {
		for _, a := range sentA.take() {
			firing = a
		}
		return !firing.StartsAt.IsZero()
	})
	crashed := time.Now()
	clientA.Close() // the leader's link dies; it cannot resign
	var first time.Time
	waitFor(t, 15*time.Second, func() bool {
		got := sentB.take()
		for _, a := range got {
			if first.IsZero() {
				first = time.Now()
			}
			if !a.StartsAt.Equal(firing.StartsAt) {
				t.Fatalf("the new leader fired again: startsAt %v, first %v", a.StartsAt, firing.StartsAt)
			}
			if !a.EndsAt.After(time.Now()) {
				return true
			}
		}
		return false
	})
	t.Logf("failover after a crash: the other replica sent %s after the crash (session TTL 2s, every 1s)", first.Sub(crashed))
	if first.Sub(crashed) > 2*time.Second+2*time.Second {
		t.Errorf("failover took %s, want at most the session TTL plus one interval and slack", first.Sub(crashed))
	}
	stopA()
	<-doneA
}
