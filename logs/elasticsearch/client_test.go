package elasticsearch

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/kusanagi-dev/kusanagi/internal/testpki"
	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
)

// runErr runs a store until Run ends by itself, and returns its error.
func runErr(t *testing.T, o Options) error {
	t.Helper()
	o.SpoolDir = t.TempDir()
	o.RetryBackoffMin, o.RetryBackoffMax = 5*time.Millisecond, 50*time.Millisecond
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Run(ctx)
}

// TestFlavorMismatch: the client refuses a server of the other kind with
// an error that says what to configure.
func TestFlavorMismatch(t *testing.T) {
	os := estest.New(t, estest.Options{OpenSearch: true})
	err := runErr(t, Options{URLs: []string{os.URL()}})
	if err == nil || !strings.Contains(err.Error(), "the server is OpenSearch 2.19.1; set flavor: opensearch") {
		t.Fatalf("Elasticsearch flavor on OpenSearch: %v", err)
	}
	es := estest.New(t, estest.Options{})
	err = runErr(t, Options{URLs: []string{es.URL()}, Flavor: FlavorOpenSearch})
	if err == nil || !strings.Contains(err.Error(), "flavor is opensearch but the server is Elasticsearch 8.19.3") {
		t.Fatalf("OpenSearch flavor on Elasticsearch: %v", err)
	}
}

// TestCredentials: basic auth with the password from a file, and an API
// key from a file, are sent; wrong credentials stop Run with the
// server's reason.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	srv := estest.New(t, estest.Options{Username: "kusanagi", Password: "s3cret"})
	h := start(t, Options{URLs: []string{srv.URL()}, HTTP: commoncfg.HTTPClientConfig{
		BasicAuth: &commoncfg.BasicAuth{Username: "kusanagi", PasswordFile: pw},
	}}, true)
	if err := h.store.Write(context.Background(), batch(0, 5)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(""); n != 5 {
		t.Fatalf("count %d", n)
	}
	err := runErr(t, Options{URLs: []string{srv.URL()}, HTTP: commoncfg.HTTPClientConfig{
		BasicAuth: &commoncfg.BasicAuth{Username: "kusanagi", Password: "wrong"},
	}})
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: security_exception: unable to authenticate user") {
		t.Fatalf("wrong password: %v", err)
	}

	key := filepath.Join(dir, "api_key")
	os.WriteFile(key, []byte("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="), 0o600)
	keySrv := estest.New(t, estest.Options{APIKey: "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="})
	h = start(t, Options{URLs: []string{keySrv.URL()}, HTTP: commoncfg.HTTPClientConfig{
		Authorization: &commoncfg.Authorization{Type: "ApiKey", CredentialsFile: key},
	}}, true)
	if err := h.store.Write(context.Background(), batch(0, 3)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(""); n != 3 {
		t.Fatalf("count %d", n)
	}
}

// TestTLS: HTTPS with the server's certificate from a CA file.
func TestTLS(t *testing.T) {
	srv := estest.New(t, estest.Options{TLS: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, srv.Certificate(), 0o600)
	h := start(t, Options{URLs: []string{srv.URL()}, HTTP: commoncfg.HTTPClientConfig{
		TLSConfig: commoncfg.TLSConfig{CAFile: ca, ServerName: "example.com"},
	}}, true)
	if err := h.store.Write(context.Background(), batch(0, 3)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(""); n != 3 {
		t.Fatalf("count %d", n)
	}
	// Without the CA, the certificate is refused and Run keeps trying.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s, err := New(Options{URLs: []string{srv.URL()}, SpoolDir: t.TempDir(), RetryBackoffMin: time.Millisecond, RetryBackoffMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run without the CA: %v (it retries, as for an unreachable cluster)", err)
	}
	select {
	case <-s.Ready():
		t.Fatal("ready without trusting the server's certificate")
	default:
	}
}

// TestClientCertificate: a cluster that requires client certificates
// takes the configured cert_file and key_file.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "es-clients")
	cert, key := ca.Issue(t, dir, "kusanagi")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	srv := estest.New(t, estest.Options{TLS: true, ClientCAs: pool})
	serverCA := filepath.Join(dir, "server.pem")
	os.WriteFile(serverCA, srv.Certificate(), 0o600)
	h := start(t, Options{URLs: []string{srv.URL()}, HTTP: commoncfg.HTTPClientConfig{
		TLSConfig: commoncfg.TLSConfig{CAFile: serverCA, CertFile: cert, KeyFile: key},
	}}, true)
	if err := h.store.Write(context.Background(), batch(0, 2)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(""); n != 2 {
		t.Fatalf("count %d", n)
	}
}
