package ipv6

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReadUDPHandsOverEveryDatagramInOrder sends datagrams of every size
// class, up to one that fills a loopback packet, from an IPv6 and an
// IPv4 sender (the latter also to a dual-stack socket, so arriving
// v4-mapped) while the handler is held up, so that they wait in
// ReadUDP's queue; then it closes the socket and lets the handler go:
// ReadUDP returns only after handing over all of them, each whole, in
// order, from its unmapped sender.
func TestReadUDPHandsOverEveryDatagramInOrder(t *testing.T) {
	for _, tc := range []struct{ listen, dst string }{
		{"[::1]:0", "::1"},
		{"[::]:0", "127.0.0.1"},
		{"127.0.0.1:0", "127.0.0.1"},
	} {
		t.Run(tc.listen+"<-"+tc.dst, func(t *testing.T) {
			c, _, err := ListenUDP(context.Background(), tc.listen, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			port := c.LocalAddr().(*net.UDPAddr).Port
			sender, err := net.Dial("udp", HostPort(tc.dst, port))
			if err != nil {
				t.Fatal(err)
			}
			defer sender.Close()
			want := netip.AddrPortFrom(netip.MustParseAddr(tc.dst), uint16(sender.LocalAddr().(*net.UDPAddr).Port))

			// Fewer datagrams than the queue has batches: all of them fit
			// in it however the reads group them.
			sizes := []int{0, 1, 300, 1500, 9000, 65000}
			const n = 200
			var got [][]byte
			release := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				ReadUDP(c, func(data []byte, from netip.AddrPort) {
					if len(got) == 0 {
						<-release
					}
					if from != want {
						t.Errorf("datagram %d from %s, want %s", len(got), from, want)
					}
					got = append(got, bytes.Clone(data))
				})
			}()
			for i := range n {
				if _, err := sender.Write(datagram(i, sizes[i%len(sizes)])); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for receiveQueueBytes(t, port) > 0 {
				if time.Now().After(deadline) {
					t.Fatal("the reader did not empty the socket")
				}
				time.Sleep(10 * time.Millisecond)
			}
			c.Close()
			close(release)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("ReadUDP did not return after the socket closed")
			}
			if len(got) != n {
				t.Fatalf("handled %d datagrams, sent %d", len(got), n)
			}
			for i, g := range got {
				if w := datagram(i, sizes[i%len(sizes)]); !bytes.Equal(g, w) {
					t.Fatalf("datagram %d: got %d bytes %.20q, want %d bytes %.20q", i, len(g), g, len(w), w)
				}
			}
		})
	}
}

// datagram is the i-th test payload, size bytes: its number, then filler.
func datagram(i, size int) []byte {
	b := fmt.Appendf(nil, "%d:", i)
	for len(b) < size {
		b = append(b, byte('a'+i%26))
	}
	return b[:size]
}

// receiveQueueBytes is what waits in the receive buffers of the UDP
// sockets bound to port (rx_queue in /proc/net/udp and udp6).
func receiveQueueBytes(t *testing.T, port int) int64 {
	t.Helper()
	var total int64
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 5 || !strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", port)) {
				continue
			}
			_, rx, _ := strings.Cut(fields[4], ":")
			v, err := strconv.ParseInt(rx, 16, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", f, line, err)
			}
			total += v
		}
	}
	return total
}
