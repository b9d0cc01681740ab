package main

import (
	"bufio"
	"crypto/tls"
	"encoding/pem"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

func TestFormatSyslogParsesBack(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	line, err := formatSyslog("rfc5424", 23, 3, ts, "r1.example", "kusanagi", "42", "LINK", "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down")
	if err != nil {
		t.Fatal(err)
	}
	m, err := rfc5424.NewParser().Parse([]byte(line))
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	sm := m.(*rfc5424.SyslogMessage)
	if *sm.Priority != 187 || *sm.Hostname != "r1.example" || *sm.Appname != "kusanagi" || *sm.ProcID != "42" || *sm.MsgID != "LINK" ||
		*sm.Message != "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down" || !sm.Timestamp.Equal(ts.Truncate(time.Microsecond)) {
		t.Fatalf("parsed back: %+v", sm)
	}
	line, _ = formatSyslog("rfc3164", 23, 5, ts, "mx1", "mib2d", "1234", "", "SNMP_TRAP_LINK_DOWN: ifIndex 529")
	m, err = rfc3164.NewParser(rfc3164.WithYear(rfc3164.CurrentYear{})).Parse([]byte(line))
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if s := m.(*rfc3164.SyslogMessage); *s.Hostname != "mx1" || *s.Appname != "mib2d" || *s.ProcID != "1234" || *s.Message != "SNMP_TRAP_LINK_DOWN: ifIndex 529" {
		t.Fatalf("parsed back: %+v", s)
	}
	if _, err := formatSyslog("rfc5424", 24, 0, ts, "", "", "", "", "x"); err == nil {
		t.Fatal("facility 24 accepted")
	}
}

func TestSendLogOverUDPAndTCP(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out strings.Builder
	if code := run(t.Context(), []string{"send-log", "--to=" + pc.LocalAddr().String(), "--hostname=", "%SYS-5-RESTART: System restarted --"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	buf := make([]byte, 2048)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "<187>1 ") || !strings.Contains(got, " - kusanagi - - - %SYS-5-RESTART") {
		t.Fatalf("UDP datagram %q", got)
	}

	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		size, _ := r.ReadString(' ')
		n, _ := strconv.Atoi(strings.TrimSpace(size))
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err == nil {
			got <- string(b)
		}
	}()
	out.Reset()
	if code := run(t.Context(), []string{"send-log", "--transport=tcp", "--format=rfc3164", "--to=" + ln.Addr().String(), "--hostname=r1", "--appname=", "%LINK-3-UPDOWN: down"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	select {
	case line := <-got:
		if !strings.HasPrefix(line, "<187>") || !strings.HasSuffix(line, " r1 %LINK-3-UPDOWN: down") {
			t.Fatalf("octet-counted frame %q", line)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("nothing received over TCP")
	}
}

func TestSendLogOverTLS(t *testing.T) {
	// httptest's certificate (for 127.0.0.1 and ::1) serves a raw TLS listener.
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	defer hs.Close()
	ln, err := tls.Listen("tcp6", "[::1]:0", hs.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644)
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
	}()
	var out strings.Builder
	if code := run(t.Context(), []string{"send-log", "--transport=tls", "--framing=newline", "--tls.ca-file=" + ca,
		"--to=" + ln.Addr().String(), "%BGP-5-ADJCHANGE: neighbor 2001:db8::2 Down"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	select {
	case line := <-got:
		if !strings.HasSuffix(line, "%BGP-5-ADJCHANGE: neighbor 2001:db8::2 Down\n") {
			t.Fatalf("TLS line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received over TLS")
	}
}
