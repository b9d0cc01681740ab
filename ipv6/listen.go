// Package ipv6 holds address handling that network gear on fixed, often
// IPv6, addresses needs: listening on [::] so that one socket takes both
// IPv6 and IPv4 senders even on an IPv6-only host, unmapping v4-mapped
// sender addresses, and bracketing IPv6 literals in every address and URL
// we print or build.
package ipv6

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Listen opens a stream listener ("tcp") on addr. See ListenPacket for how
// addresses map to sockets.
func Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	lc, family, err := listenConfig(network, addr)
	if err != nil {
		return nil, err
	}
	return lc.Listen(ctx, family, addr)
}

// ListenPacket opens a datagram socket ("udp") on addr.
//
// A wildcard address ("[::]:162" or ":162") opens one IPv6 socket with
// IPV6_V6ONLY off, which receives IPv6 senders and IPv4 senders as
// v4-mapped addresses (undo with Unmap). Go's own choices fail one way or
// the other: "udp6" on [::] sets IPV6_V6ONLY and never sees IPv4 senders,
// and "udp" on [::] falls back to 0.0.0.0 where the kernel has no IPv4
// (golang/go#61310) and never sees IPv6 senders. An IPv4 or IPv6 literal
// binds that address only.
func ListenPacket(ctx context.Context, network, addr string) (net.PacketConn, error) {
	lc, family, err := listenConfig(network, addr)
	if err != nil {
		return nil, err
	}
	return lc.ListenPacket(ctx, family, addr)
}

func listenConfig(network, addr string) (*net.ListenConfig, string, error) {
	if network != "tcp" && network != "udp" {
		return nil, "", fmt.Errorf("cannot listen on %q: network must be tcp or udp", network)
	}
	host, _, err := SplitListenAddress(addr)
	if err != nil {
		return nil, "", err
	}
	lc := &net.ListenConfig{}
	switch {
	case host == "" || host == "::":
		lc.Control = dualStack
		return lc, network + "6", nil
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return lc, network, nil // a name: let the resolver pick
		}
		if ip.Is4() || ip.Is4In6() {
			return lc, network + "4", nil
		}
		return lc, network + "6", nil
	}
}

func dualStack(_, _ string, c syscall.RawConn) error {
	var sockErr error
	err := c.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
	})
	if err != nil {
		return err
	}
	if sockErr != nil {
		return fmt.Errorf("cannot make the socket dual-stack (IPV6_V6ONLY=0): %w", sockErr)
	}
	return nil
}

// SplitListenAddress checks a listen address ("[::]:9162", "0.0.0.0:514",
// "[fd00::10]:9093", ":9180") and returns its host and port. IPv6 literals
// must be in brackets.
func SplitListenAddress(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("invalid listen address %q: %v (write IPv6 addresses in brackets: [::]:9162)", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("invalid listen address %q: port %q is not a number from 0 to 65535", addr, p)
	}
	if ip, err := netip.ParseAddr(h); err == nil && ip.Zone() != "" && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() {
		return "", 0, fmt.Errorf("invalid listen address %q: a zone only makes sense on a link-local address", addr)
	}
	return h, n, nil
}

// Unmap turns a v4-mapped IPv6 address (::ffff:192.0.2.1), as a dual-stack
// socket reports IPv4 senders, back into the IPv4 address the sender has.
func Unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// HostPort joins host and port, bracketing IPv6 literals ([fd00::1]:9093).
func HostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// URLHost returns the host:port to put in a URL for a listen address: the
// wildcard becomes the loopback address of the same family, so that a URL
// built from "[::]:9093" can be dialled.
func URLHost(listenAddr string) (string, error) {
	host, port, err := SplitListenAddress(listenAddr)
	if err != nil {
		return "", err
	}
	switch host {
	case "", "::":
		host = "::1"
	case "0.0.0.0":
		host = "127.0.0.1"
	}
	return HostPort(host, port), nil
}
