package syslog

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// stalledStore takes no record until released, like a log store that has
// fallen behind.
type stalledStore struct {
	release chan struct{}
	stored  atomic.Int64
}

func (s *stalledStore) AddBatch(b *logs.Batch) {
	s.stored.Add(int64(b.Len()))
	b.Reset()
}
func (s *stalledStore) AddBatchWait(ctx context.Context, b *logs.Batch) error {
	select {
	case <-s.release:
		s.stored.Add(int64(b.Len()))
		b.Reset()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamDialers start a server with one stream transport on ::1 and dial it.
func streamDialers(t testing.TB) map[string]func(Records) (net.Conn, error) {
	site := newSite(t)
	clientCfg := clientTLS(t, site.ca.File, "", "")
	return map[string]func(Records) (net.Conn, error){
		"tcp": func(r Records) (net.Conn, error) {
			addrs := startServer(t, Options{TCPAddresses: []string{"[::1]:0"}, Records: r})
			return net.Dial("tcp", addrs[0].String())
		},
		"tls": func(r Records) (net.Conn, error) {
			addrs := startServer(t, Options{TLSAddresses: []string{"[::1]:0"}, Records: r, TLS: site.server})
			return tls.Dial("tcp", addrs[0].String(), clientCfg)
		},
	}
}

// TestStreamBackpressure: while the store takes nothing, a TCP or TLS
// sender blocks once the socket buffers are full, so the receiver holds a
// bounded amount of data; when the store catches up, every line arrives.
func TestStreamBackpressure(t *testing.T) {
	const (
		lines    = 8 << 10
		lineSize = 4 << 10 // 32 MiB in all
		bound    = 16 << 20
	)
	for transport, dial := range streamDialers(t) {
		t.Run(transport, func(t *testing.T) {
			store := &stalledStore{release: make(chan struct{})}
			c, err := dial(store)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			line := "<187>Nov 25 10:00:00 core1 %LINK-3-UPDOWN: " + strings.Repeat("x", lineSize-48)
			frame := fmt.Sprintf("%d %s", len(line), line)
			last, finish := sendUntilStalled(t, c, lines, func(int) string { return frame })
			t.Logf("%s: the sender blocked after %.1f MiB", transport, float64(last)/(1<<20))
			if last > bound || store.stored.Load() != 0 {
				t.Fatalf("%d bytes taken and %d records stored while the store stalled", last, store.stored.Load())
			}
			close(store.release)
			finish(store.stored.Load)
		})
	}
}

// sendUntilStalled writes frame(i) for i < lines to c from a goroutine
// until the receiver stops reading: it returns the bytes written when
// nothing more was written for a second. finish, called once the store
// takes records again, waits for the sender to write the rest and for
// stored to reach lines.
func sendUntilStalled(t *testing.T, c net.Conn, lines int, frame func(i int) string) (written int64, finish func(stored func() int64)) {
	t.Helper()
	var n atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := range lines {
			f := frame(i)
			if _, err := io.WriteString(c, f); err != nil {
				done <- err
				return
			}
			n.Add(int64(len(f)))
		}
		done <- nil
	}()
	last := int64(-1)
	for last != n.Load() {
		last = n.Load()
		select {
		case err := <-done:
			t.Fatalf("the sender wrote all %d bytes into a stalled store (err %v)", n.Load(), err)
		case <-time.After(time.Second):
		}
	}
	return last, func(stored func() int64) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the sender did not finish after the store caught up")
		}
		for deadline := time.Now().Add(30 * time.Second); stored() != int64(lines); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d lines stored", stored(), lines)
			}
		}
	}
}

// BenchmarkStream: lines per second from one TCP or TLS connection through
// framing and parsing, to the store taking them (it counts, and keeps nothing).
func BenchmarkStream(b *testing.B) {
	line := "<187>1 2026-11-25T10:00:00.123Z core1 ios - LINK - %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down\n"
	batch := strings.Repeat(line, 100)
	for _, transport := range []string{"tcp", "tls"} {
		b.Run(transport, func(b *testing.B) {
			store := &stalledStore{release: make(chan struct{})}
			close(store.release)
			c, err := streamDialers(b)[transport](store)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			n := (b.N + 99) / 100 * 100
			b.SetBytes(int64(len(line)))
			b.ResetTimer()
			start := time.Now()
			for range n / 100 {
				if _, err := io.WriteString(c, batch); err != nil {
					b.Fatal(err)
				}
			}
			for store.stored.Load() < int64(n) {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "lines/s")
		})
	}
}

// FuzzStreamFraming feeds any bytes to the TCP/TLS connection reader: it
// ends when the sender does, and every record holds bytes the sender sent.
func FuzzStreamFraming(f *testing.F) {
	for _, seed := range []string{
		"12 <13>1 - - x\n",
		"5 <13>a<13>b\n<14>c\n",
		"99999999999 <13>x",
		"3 <1",
		"<13>no newline at the end",
		"\n\n0 \n",
	} {
		f.Add([]byte(seed))
	}
	rec := recorder{ch: make(chan logs.Record, 2<<10)} // more than lines in one input
	s, err := New(Options{TCPAddresses: []string{"[::1]:0"}, Records: rec, MaxMessageSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<10 {
			return
		}
		server, client := net.Pipe()
		go func() { client.Write(b); client.Close() }()
		done := make(chan struct{})
		go func() { s.serveStream(t.Context(), server, "tcp", nil); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the reader did not end when the sender closed, input %q", b)
		}
		for len(rec.ch) > 0 {
			r := <-rec.ch
			if !strings.Contains(string(b), r.Original) {
				t.Fatalf("record %q is not from input %q", r.Original, b)
			}
		}
	})
}
