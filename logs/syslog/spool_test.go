package syslog

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

// slowStore is a log store that takes nothing while gate is open and
// then takes a batch per delay: an indexer slower than the receivers.
type slowStore struct {
	gate   chan struct{}
	delay  time.Duration
	mu     sync.Mutex
	stored atomic.Int64
	seen   map[string]bool
}

func (s *slowStore) Write(ctx context.Context, rs []logs.Record) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(s.delay)
	s.mu.Lock()
	for _, r := range rs {
		s.seen[r.Message] = true
	}
	s.mu.Unlock()
	s.stored.Add(int64(len(rs)))
	return nil
}

func (s *slowStore) Search(context.Context, query.Node, time.Time, time.Time, int) ([]logs.Record, error) {
	return nil, nil
}

func (s *slowStore) Count(context.Context, query.Node, []string, time.Time, time.Time) ([]logs.GroupCount, error) {
	return nil, nil
}
func (s *slowStore) Close() error { return nil }

// TestStreamBackpressureThroughSpool: with the real Writer in front of a
// stalled store, a TCP or TLS sender is pushed back once the spool is at
// its bound, so what the receiver took is bounded by the spool and the
// socket buffers; once the store takes records, every line arrives.
func TestStreamBackpressureThroughSpool(t *testing.T) {
	const (
		lines    = 5 << 10
		lineSize = 4 << 10 // 20 MiB in all
		spoolMax = 4 << 20
		bound    = 14 << 20 // the spool, the records pending for it, socket buffers
	)
	for transport, dial := range streamDialers(t) {
		t.Run(transport, func(t *testing.T) {
			store := &slowStore{gate: make(chan struct{}), seen: map[string]bool{}}
			w := storetest.RunWriter(t, logs.WriterOptions{Store: store, Name: "syslog", SpoolMaxBytes: spoolMax, PendingBytes: 1 << 20, FlushInterval: 10 * time.Millisecond})
			c, err := dial(w)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			last, finish := sendUntilStalled(t, c, lines, func(i int) string {
				line := fmt.Sprintf("<187>Nov 25 10:00:00 core1 %%LINK-3-UPDOWN: %06d %s", i, strings.Repeat("x", lineSize-56))
				return fmt.Sprintf("%d %s", len(line), line)
			})
			t.Logf("%s: the sender blocked after %.1f MiB", transport, float64(last)/(1<<20))
			if last > bound || last < spoolMax {
				t.Fatalf("the sender blocked after %d bytes; want between the spool bound %d and %d", last, spoolMax, bound)
			}
			close(store.gate)
			finish(store.stored.Load)
			store.mu.Lock()
			defer store.mu.Unlock()
			if len(store.seen) != lines {
				t.Fatalf("%d distinct lines stored, want %d", len(store.seen), lines)
			}
		})
	}
}

// TestUDPBurstBeyondTheStoreIsStored: a UDP burst several times faster
// than the store writes is stored whole once the store catches up,
// because it fits in the spool: nothing is dropped.
func TestUDPBurstBeyondTheStoreIsStored(t *testing.T) {
	const n = 30000
	// 1000 records per 100ms: 10k/s, a fraction of the sending rate.
	store := &slowStore{delay: 100 * time.Millisecond, seen: map[string]bool{}}
	w := storetest.RunWriter(t, logs.WriterOptions{Store: store, Name: "syslog", BatchSize: 1000, FlushInterval: 10 * time.Millisecond})
	addrs := startServer(t, Options{UDPAddresses: []string{"[::1]:0"}, Records: w})
	c, err := net.Dial("udp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for i := range n {
		if _, err := fmt.Fprintf(c, "<187>Nov 25 10:00:00 core1 %%LINK-3-UPDOWN: burst %d", i); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			// Within what the kernel's receive buffer holds: the test is
			// about the store's rate, not the socket's.
			time.Sleep(time.Millisecond)
		}
	}
	sent := time.Since(start)
	behind := n - store.stored.Load()
	for deadline := time.Now().Add(30 * time.Second); store.stored.Load() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines stored", store.stored.Load(), n)
		}
	}
	t.Logf("sent %d lines in %v (%.0f/s), the store %d behind; all stored in %v", n, sent, n/sent.Seconds(), behind, time.Since(start))
	if behind < n/4 {
		t.Fatalf("the store was only %d lines behind the burst: the test proves nothing", behind)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	for i := range n {
		if !store.seen[fmt.Sprintf("%%LINK-3-UPDOWN: burst %d", i)] {
			t.Fatalf("line %d missing", i)
		}
	}
}
