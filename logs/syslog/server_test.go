package syslog

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

// TestLoggerToStore sends with util-linux logger over UDP and TCP (both
// framings, both formats) and finds every line in the embedded store.
func TestLoggerToStore(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Fatal("logger not found: util-linux's logger (package bsdutils) is part of every Debian system")
	}
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the writer stops
	w := storetest.RunWriter(t, logs.WriterOptions{Store: store, Name: "syslog", FlushInterval: 10 * time.Millisecond})
	addrs := startServer(t, Options{UDPAddresses: []string{"[::]:0"}, TCPAddresses: []string{"[::]:0"}, Records: w})
	udpPort := strconv.Itoa(addrs[0].(*net.UDPAddr).Port)
	tcpPort := strconv.Itoa(addrs[1].(*net.TCPAddr).Port)

	sends := [][]string{
		{"--rfc3164", "-d", "-n", "::1", "-P", udpPort, "-t", "ifmgr", "-p", "local7.err", "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"},
		{"--rfc5424", "-d", "-n", "127.0.0.1", "-P", udpPort, "-t", "bgpd", "--msgid", "ADJ", "%BGP-5-ADJCHANGE: neighbor 2001:db8::2 Down"},
		{"--rfc5424", "-T", "--octet-count", "-n", "::1", "-P", tcpPort, "-t", "mib2d", "SNMP_TRAP_LINK_DOWN: ifIndex 529"},
		{"--rfc3164", "-T", "-n", "127.0.0.1", "-P", tcpPort, "-t", "sshd", "Accepted publickey for root"},
	}
	for _, args := range sends {
		if out, err := exec.Command(logger, args...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v\n%s", args, err, out)
		}
	}
	want := map[string]string{
		`event.code:"LINK-3-UPDOWN" AND log.syslog.appname:ifmgr AND host.ip:"::1" AND log.syslog.severity.code:3`: "",
		`event.code:"BGP-5-ADJCHANGE" AND log.syslog.msgid:ADJ AND host.ip:127.0.0.1`:                              "",
		`event.code:SNMP_TRAP_LINK_DOWN AND log.syslog.appname:mib2d`:                                              "",
		`message:"Accepted publickey" AND log.syslog.appname:sshd`:                                                 "",
	}
	deadline := time.Now().Add(10 * time.Second)
	for q := range want {
		n, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		for {
			got, err := store.Search(context.Background(), n, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 1 {
				break
			}
			if time.Now().After(deadline) {
				all, _ := store.Search(context.Background(), nil, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 10)
				t.Fatalf("%s: %d records; the store holds %+v", q, len(got), all)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// recorder keeps what the server hands over.
type recorder struct{ ch chan logs.Record }

func (r recorder) AddBatch(b *logs.Batch) {
	recs, err := b.Records()
	if err != nil {
		panic(err) // a batch the receiver encoded does not decode
	}
	for _, rec := range recs {
		r.ch <- rec
	}
	b.Reset()
}
func (r recorder) AddBatchWait(ctx context.Context, b *logs.Batch) error {
	recs, err := b.Records()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		select {
		case r.ch <- rec:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.Reset()
	return nil
}

func TestSourceProfiles(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder{ch: make(chan logs.Record, 4)}
	addrs := startServer(t, Options{UDPAddresses: []string{"[::1]:0"}, Records: rec, Profiles: []SourceProfile{{
		Sources: []netip.Prefix{netip.MustParsePrefix("::1/128")},
		Profile: Profile{Location: berlin, HostName: "edge-router-7"},
	}}})
	c, err := net.Dial("udp6", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("<189>Jun 1 12:00:00: %SYS-5-RESTART: System restarted --"))
	select {
	case r := <-rec.ch:
		if r.HostName != "edge-router-7" || r.Timestamp.UTC().Hour() != 10 || r.Fields["event.code"] != "SYS-5-RESTART" {
			t.Fatalf("profile not applied: host %q time %v fields %v", r.HostName, r.Timestamp.UTC(), r.Fields)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
}

// TestRsyslogForwardsOverTCP runs an rsyslog instance of its own (Debian
// package rsyslog, installed by `make test`) that takes a line on UDP and
// forwards it over TCP with octet counting, as a site's relay would.
func TestRsyslogForwardsOverTCP(t *testing.T) {
	rec := recorder{ch: make(chan logs.Record, 16)}
	addrs := startServer(t, Options{TCPAddresses: []string{"[::1]:0"}, Records: rec})
	in := startRsyslog(t, "", `action(type="omfwd" target="::1" port="`+strconv.Itoa(addrs[0].(*net.TCPAddr).Port)+`" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`)
	r := relayed(t, in, rec)
	if r.Fields["event.code"] != "LINK-3-UPDOWN" || r.Fields["log.syslog.version"] != "1" || r.HostIP != "::1" {
		t.Fatalf("forwarded record: %+v", r)
	}
}

// startRsyslog runs an rsyslog of its own that takes lines on UDP on
// 127.0.0.1 and applies action to them; it returns the UDP port.
func startRsyslog(t *testing.T, global, action string) int {
	t.Helper()
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Fatal("rsyslogd not found: `make test` installs the Debian package rsyslog")
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inPort := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(conf, []byte(`global(workDirectory="`+dir+`" `+global+`)
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="`+strconv.Itoa(inPort)+`")
`+action+"\n"), 0o644)
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslog.pid"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", out.String())
		}
	})
	return inPort
}

// relayed sends a Cisco line to rsyslog's UDP port until rsyslog is up and
// the server hands the forwarded record over.
func relayed(t *testing.T, inPort int, rec recorder) logs.Record {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(inPort))
		if err == nil {
			c.Write([]byte("<187>Nov 25 10:00:00 core1 42: %LINK-3-UPDOWN: Interface Gi0/2, changed state to down"))
			c.Close()
		}
		select {
		case r := <-rec.ch:
			return r
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing forwarded by rsyslog within 15s")
		}
	}
}

// startServer runs a server until the test ends and returns its bound
// addresses, UDP first.
func startServer(t testing.TB, o Options) []net.Addr {
	t.Helper()
	_, addrs := runServer(t, o)
	return addrs
}

// runServer is startServer that also returns the server, for its metrics.
func runServer(t testing.TB, o Options) (*Server, []net.Addr) {
	t.Helper()
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addrs, err := srv.Addrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return srv, addrs
}
