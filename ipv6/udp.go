package ipv6

import (
	"bufio"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ListenUDP opens a UDP socket on addr (see ListenPacket) with a receive
// buffer of want bytes, forced past net.core.rmem_max when the process may
// (CAP_NET_ADMIN), and returns the size the kernel actually gave: bursts
// of traps and syslog are absorbed there or lost.
func ListenUDP(ctx context.Context, addr string, want int) (*net.UDPConn, int, error) {
	pc, err := ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, 0, err
	}
	conn := pc.(*net.UDPConn)
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, 0, err
	}
	got := 0
	raw.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, want) != nil {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, want)
		}
		// Linux reports twice the size set, the doubling being its
		// bookkeeping overhead.
		if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); err == nil {
			got = v / 2
		}
	})
	return conn, got, nil
}

// UDPReceiveBufferErrors sums the datagrams the kernel dropped because a
// UDP socket's receive buffer was full (RcvbufErrors in /proc/net/snmp and
// Udp6RcvbufErrors in /proc/net/snmp6). The counters are host-wide (or
// network-namespace-wide in a pod).
func UDPReceiveBufferErrors() float64 {
	total := 0.0
	if f, err := os.Open("/proc/net/snmp"); err == nil {
		s := bufio.NewScanner(f)
		var header []string
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) == 0 || fields[0] != "Udp:" {
				continue
			}
			if header == nil {
				header = fields
				continue
			}
			for i, h := range header {
				if h == "RcvbufErrors" && i < len(fields) {
					v, _ := strconv.ParseFloat(fields[i], 64)
					total += v
				}
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/net/snmp6"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "Udp6RcvbufErrors" {
				v, _ := strconv.ParseFloat(f[1], 64)
				total += v
			}
		}
	}
	return total
}
