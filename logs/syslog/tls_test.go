package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kusanagi-dev/kusanagi/internal/testpki"
	"github.com/kusanagi-dev/kusanagi/logs"
)

// site is a test CA and the collector's certificate it signed, in dir.
type site struct {
	dir string
	ca  *testpki.CA
	// server presents the certificate; mutual also requires client
	// certificates signed by the CA.
	server, mutual TLSOptions
}

func newSite(t testing.TB) site {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "syslog-ca")
	certFile, keyFile := ca.Issue(t, dir, "collector")
	server := TLSOptions{CertFile: certFile, KeyFile: keyFile}
	mutual := server
	mutual.ClientCAFile, mutual.ClientAuth = ca.File, tls.RequireAndVerifyClientCert
	return site{dir: dir, ca: ca, server: server, mutual: mutual}
}

// clientTLS trusts caFile and presents certFile/keyFile when given.
func clientTLS(t testing.TB, caFile, certFile, keyFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool()}
	cfg.RootCAs.AppendCertsFromPEM(pem)
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		// Always presented, as gear does: Go's default would leave out a
		// certificate whose issuer the server did not ask for.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return cfg
}

func receive(t *testing.T, rec recorder) logs.Record {
	t.Helper()
	select {
	case r := <-rec.ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
		return logs.Record{}
	}
}

// TestTLSFramesWithClientCertificates sends an octet-counted and a
// newline-framed message on one TLS connection, from ::1 and from
// 127.0.0.1, with a client certificate the server requires and verifies.
func TestTLSFramesWithClientCertificates(t *testing.T) {
	site := newSite(t)
	ca := site.ca
	clientCert, clientKey := ca.Issue(t, site.dir, "router-7")
	rec := recorder{ch: make(chan logs.Record, 8)}
	srv, addrs := runServer(t, Options{TLSAddresses: []string{"[::1]:0", "127.0.0.1:0"}, Records: rec, TLS: site.mutual})
	octet := "<187>1 2026-11-25T10:00:00Z core1 ios - LINK - %LINK-3-UPDOWN: Interface Gi0/1, changed state to down"
	newline := "<86>Nov 25 10:00:01 core1 sshd[7]: Accepted publickey for noc"
	for _, a := range addrs {
		c, err := tls.Dial("tcp", a.String(), clientTLS(t, ca.File, clientCert, clientKey))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "%d %s%s\n", len(octet), octet, newline)
		c.Close()
		host := a.(*net.TCPAddr).AddrPort().Addr().String()
		for _, want := range []struct{ field, value string }{{"event.code", "LINK-3-UPDOWN"}, {"log.syslog.appname", "sshd"}} {
			r := receive(t, rec)
			if r.Fields[want.field] != want.value || r.HostIP != host || r.Fields["tls.client.subject"] != "CN=router-7,O=Kusanagi test" {
				t.Fatalf("from %s, want %s=%s: %+v", host, want.field, want.value, r)
			}
		}
	}
	if n := testutil.ToFloat64(srv.metrics.messages.WithLabelValues("tls")); n != 4 {
		t.Fatalf("kusanagi_syslog_messages_total{transport=tls} = %v, want 4", n)
	}
}

// TestTLSHandshakeFailuresAreCounted: each way a sender fails the handshake
// is refused, stores nothing and is counted under its reason.
func TestTLSHandshakeFailuresAreCounted(t *testing.T) {
	site := newSite(t)
	ca, dir := site.ca, site.dir
	other := testpki.NewCA(t, dir, "other-ca")
	goodCert, goodKey := ca.Issue(t, dir, "router-7")
	strangerCert, strangerKey := other.Issue(t, dir, "stranger")
	rec := recorder{ch: make(chan logs.Record, 8)}
	opts := site.mutual
	opts.HandshakeTimeout = 300 * time.Millisecond
	srv, addrs := runServer(t, Options{TLSAddresses: []string{"[::1]:0"}, Records: rec, TLS: opts})
	addr := addrs[0].String()
	// handshake sends one line as a TLS client would; in TLS 1.3 the client
	// learns that the server refused its certificate only when it reads.
	handshake := func(cfg *tls.Config) {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "<187>refused line\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("the server answered a refused client")
		}
	}
	raw := func(send string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(send))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 64))
	}
	for _, tc := range []struct {
		reason string
		send   func()
	}{
		{"bad_client_certificate", func() { handshake(clientTLS(t, ca.File, strangerCert, strangerKey)) }},
		{"no_client_certificate", func() { handshake(clientTLS(t, ca.File, "", "")) }},
		{"rejected_by_client", func() { handshake(clientTLS(t, other.File, goodCert, goodKey)) }},
		{"not_tls", func() { raw("<187>Nov 25 10:00:00 core1 plain syslog on the TLS port\n") }},
		{"timeout", func() { raw("") }},
	} {
		tc.send()
		failures := srv.metrics.handshakeFailures.WithLabelValues(tc.reason)
		for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(failures) != 1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: kusanagi_syslog_tls_handshake_failures_total = %v, want 1", tc.reason, testutil.ToFloat64(failures))
			}
		}
	}
	if n := testutil.CollectAndCount(srv.metrics.handshakeFailures); n != len(handshakeFailureReasons) {
		t.Errorf("%d reasons exported, want %d", n, len(handshakeFailureReasons))
	}
	if other := testutil.ToFloat64(srv.metrics.handshakeFailures.WithLabelValues("other")); other != 0 {
		t.Errorf("%v failures counted as other", other)
	}
	select {
	case r := <-rec.ch:
		t.Fatalf("a refused sender's line was stored: %+v", r)
	default:
	}
}

// TestTLSCertificateRotation replaces the certificate files under a running
// server, as cert-manager does, and expects new handshakes to use them; a
// broken replacement keeps the last good certificate in use.
func TestTLSCertificateRotation(t *testing.T) {
	site := newSite(t)
	ca, dir, certFile, keyFile := site.ca, site.dir, site.server.CertFile, site.server.KeyFile
	srv, addrs := runServer(t, Options{TLSAddresses: []string{"127.0.0.1:0"}, Records: recorder{ch: make(chan logs.Record, 1)}, TLS: site.server})
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", addrs[0].String(), clientTLS(t, ca.File, "", ""))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if cn := served().Subject.CommonName; cn != "collector" {
		t.Fatalf("served %q", cn)
	}
	newCert, newKey := ca.Issue(t, dir, "collector-rotated")
	if err := os.Rename(newKey, keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newCert, certFile); err != nil {
		t.Fatal(err)
	}
	rotated := served()
	if rotated.Subject.CommonName != "collector-rotated" {
		t.Fatalf("after rotation served %q", rotated.Subject.CommonName)
	}
	if got := testutil.ToFloat64(srv.metrics.certExpiry); got != float64(rotated.NotAfter.Unix()) {
		t.Errorf("expiry metric %v, want %v", got, rotated.NotAfter.Unix())
	}
	if err := os.WriteFile(certFile, []byte("half a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if cn := served().Subject.CommonName; cn != "collector-rotated" {
			t.Fatalf("after a broken rotation served %q", cn)
		}
	}
}

// TestTLSOptionsChecked: a TLS listener cannot start without what it needs.
func TestTLSOptionsChecked(t *testing.T) {
	site := newSite(t)
	dir, certFile, keyFile := site.dir, site.server.CertFile, site.server.KeyFile
	rec := recorder{ch: make(chan logs.Record)}
	for _, tc := range []struct {
		tls  TLSOptions
		want string
	}{
		{TLSOptions{}, "need a certificate and key file"},
		{TLSOptions{CertFile: certFile, KeyFile: keyFile, ClientAuth: tls.RequireAndVerifyClientCert}, "needs a client CA file"},
		{TLSOptions{CertFile: certFile, KeyFile: certFile}, "cannot load TLS certificate"},
		{TLSOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile, ClientAuth: tls.VerifyClientCertIfGiven}, "holds no PEM certificate"},
		{TLSOptions{CertFile: dir + "/missing.crt", KeyFile: keyFile}, "missing.crt: no such file"},
	} {
		_, err := New(Options{TLSAddresses: []string{"[::1]:0"}, Records: rec, TLS: tc.tls})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.tls, err, tc.want)
		}
	}
}

// TestRsyslogForwardsOverTLS: rsyslog's gtls netstream driver (Debian
// package rsyslog-gnutls) relays a line over TLS with RFC 5425 octet
// counting, checking the server's name and presenting its own certificate.
func TestRsyslogForwardsOverTLS(t *testing.T) {
	site := newSite(t)
	ca := site.ca
	relayCert, relayKey := ca.Issue(t, site.dir, "relay-1")
	rec := recorder{ch: make(chan logs.Record, 16)}
	_, addrs := runServer(t, Options{TLSAddresses: []string{"[::1]:0"}, Records: rec, TLS: site.mutual})
	in := startRsyslog(t,
		`defaultNetstreamDriverCAFile="`+ca.File+`" defaultNetstreamDriverCertFile="`+relayCert+`" defaultNetstreamDriverKeyFile="`+relayKey+`"`,
		`action(type="omfwd" target="::1" port="`+strconv.Itoa(addrs[0].(*net.TCPAddr).Port)+`" protocol="tcp"
       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`)
	r := relayed(t, in, rec)
	if r.Fields["event.code"] != "LINK-3-UPDOWN" || r.Fields["log.syslog.version"] != "1" || r.HostIP != "::1" ||
		r.Fields["tls.client.subject"] != "CN=relay-1,O=Kusanagi test" {
		t.Fatalf("forwarded record: %+v", r)
	}
}
