package alertstore

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestCompactedWatchReloads has a replica fall behind a compaction: its
// watch cannot resume, so it must reload and end with exactly etcd's state
// (new alerts added, garbage-collected ones gone).
func TestCompactedWatchReloads(t *testing.T) {
	e := startEtcd(t)
	writer := startReplica(t, e.Endpoints(), AlertsOptions{})
	now := time.Now()
	gone := newAlert("Gone", "x", now.Add(-time.Hour), now.Add(-time.Minute))
	if err := writer.alerts.Put(context.Background(), gone); err != nil {
		t.Fatal(err)
	}

	client := newClient(t, e.Endpoints())
	late, err := NewAlerts(AlertsOptions{Client: client, Prefix: "/test/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := late.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if late.Len() != 1 {
		t.Fatalf("loaded %d alerts, want 1", late.Len())
	}

	// While late is not watching: new alerts, a GC, and a compaction.
	for i := range 10 {
		if err := writer.alerts.Put(context.Background(), newAlert("New", fmt.Sprint(i), now, now.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	writer.alerts.GC(context.Background())
	resp, err := client.Get(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Compact(context.Background(), resp.Header.Revision); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { late.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return late.Len() == 10 })
	if _, err := late.Get(gone.Fingerprint()); err == nil {
		t.Fatal("an alert deleted during the compacted gap is still served")
	}
	if v := counterValue(late.metrics.reloads); v < 1 {
		t.Fatalf("reloads = %v, want a reload after the compacted watch", v)
	}
}

// TestRecoversWhenEtcdReturns stops etcd under two replicas and starts it
// again on the same address: writes fail while it is gone, then both
// replicas carry on by themselves.
func TestRecoversWhenEtcdReturns(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	clientURL := "http://" + ln.Addr().String()
	ln.Close()
	start := func() *Embedded {
		e, err := StartEmbedded(EmbeddedOptions{Dir: dir, ClientURL: clientURL})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := start()
	a := startReplica(t, e.Endpoints(), AlertsOptions{WriteTimeout: 300 * time.Millisecond})
	b := startReplica(t, e.Endpoints(), AlertsOptions{})
	e.Close()

	now := time.Now()
	if err := a.alerts.Put(context.Background(), newAlert("DuringOutage", "x", now, now.Add(time.Hour))); err == nil {
		t.Fatal("Put succeeded with etcd down")
	}
	e = start()
	defer e.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := a.alerts.Put(context.Background(), newAlert("AfterOutage", "x", now, now.Add(time.Hour)))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Put still failing 20s after etcd returned: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitForWithin(t, 20*time.Second, func() bool { return b.alerts.Len() == 1 })
	resp, _ := a.alerts.opts.Client.Get(context.Background(), "/test/alerts/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if resp == nil || resp.Count != 1 {
		t.Fatalf("etcd holds %v alerts, want 1", resp)
	}
}

func waitForWithin(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
