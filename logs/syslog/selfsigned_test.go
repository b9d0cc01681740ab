package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// TestSelfSignedCertificate: made on first start, reused afterwards (the
// fingerprint senders pinned stays), replaced near expiry, and a client
// that trusts the file itself reaches the listener.
func TestSelfSignedCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "syslog-tls")
	now := time.Now()
	first, err := SelfSignedCertificate(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created {
		t.Fatal("first start: not created")
	}
	if fi, err := os.Stat(first.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi.Mode(), err)
	}
	again, err := SelfSignedCertificate(dir, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || Fingerprint(again.Certificate) != Fingerprint(first.Certificate) {
		t.Fatalf("restart: created %v, fingerprint %s, want %s", again.Created, Fingerprint(again.Certificate), Fingerprint(first.Certificate))
	}
	rec := recorder{ch: make(chan logs.Record, 1)}
	addrs := startServer(t, Options{TLSAddresses: []string{"[::1]:0"}, Records: rec, TLS: TLSOptions{CertFile: first.CertFile, KeyFile: first.KeyFile}})
	c, err := tls.Dial("tcp", addrs[0].String(), clientTLS(t, first.CertFile, "", ""))
	if err != nil {
		t.Fatalf("a client trusting the self-signed file: %v", err)
	}
	if got := Fingerprint(c.ConnectionState().PeerCertificates[0]); got != Fingerprint(first.Certificate) {
		t.Fatalf("served %s", got)
	}
	c.Close()

	renewed, err := SelfSignedCertificate(dir, first.Certificate.NotAfter.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !renewed.Created || Fingerprint(renewed.Certificate) == Fingerprint(first.Certificate) {
		t.Fatal("a certificate a day from expiry was kept")
	}

	os.WriteFile(renewed.KeyFile, []byte("not a key"), 0o600)
	if _, err := SelfSignedCertificate(dir, now); err == nil || !strings.Contains(err.Error(), "delete "+renewed.CertFile) {
		t.Fatalf("a damaged key: err %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	c := &x509.Certificate{Raw: []byte("x")}
	// sha256("x")
	want := "2D:71:16:42:B7:26:B0:44:01:62:7C:A9:FB:AC:32:F5:C8:53:0F:B1:90:3C:C4:DB:02:25:87:17:92:1A:48:81"
	if got := Fingerprint(c); got != want {
		t.Fatalf("Fingerprint = %s", got)
	}
}
