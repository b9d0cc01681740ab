package ipv6

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestWildcardListenerTakesBothFamilies sends from 127.0.0.1 and ::1 to
// one socket on [::] and checks both arrive, the IPv4 one unmappable to
// the sender's real address.
func TestWildcardListenerTakesBothFamilies(t *testing.T) {
	for _, addr := range []string{"[::]:0", ":0"} {
		pc, err := ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		for _, dst := range []string{"127.0.0.1", "::1"} {
			c, err := net.Dial("udp", HostPort(dst, port))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("trap")); err != nil {
				t.Fatal(err)
			}
			c.Close()
			pc.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 16)
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("listening on %s, datagram from %s did not arrive: %v", addr, dst, err)
			}
			got := Unmap(from.(*net.UDPAddr).AddrPort()).Addr()
			if got != netip.MustParseAddr(dst) {
				t.Fatalf("sender %s seen as %s", dst, got)
			}
		}
		pc.Close()
	}
}

func TestTCPWildcardAcceptsIPv4(t *testing.T) {
	ln, err := Listen(context.Background(), "tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		if c, err := net.Dial("tcp4", HostPort("127.0.0.1", port)); err == nil {
			c.Close()
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := Unmap(c.RemoteAddr().(*net.TCPAddr).AddrPort()).Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("IPv4 client seen as %s", got)
	}
}

func TestListenAddresses(t *testing.T) {
	good := map[string]string{
		"[::]:9162":     "[::1]:9162",
		":9180":         "[::1]:9180",
		"0.0.0.0:514":   "127.0.0.1:514",
		"[fd00::10]:93": "[fd00::10]:93",
		"10.0.0.1:162":  "10.0.0.1:162",
	}
	for in, want := range good {
		got, err := URLHost(in)
		if err != nil || got != want {
			t.Errorf("URLHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"::1:9093", "[::]", "host:port", "[::]:70000", "[fd00::1%eth0]:1", ""} {
		if _, _, err := SplitListenAddress(bad); err == nil {
			t.Errorf("SplitListenAddress(%q) = nil error", bad)
		}
	}
}
