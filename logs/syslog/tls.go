package syslog

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TLSOptions are the certificate and client policy of the TLS listeners
// (RFC 5425).
type TLSOptions struct {
	CertFile, KeyFile string
	// ClientCAFile verifies client certificates (ClientAuth
	// VerifyClientCertIfGiven or RequireAndVerifyClientCert).
	ClientCAFile string
	ClientAuth   tls.ClientAuthType
	// MinVersion defaults to TLS 1.2.
	MinVersion uint16
	// HandshakeTimeout bounds each handshake, so that connections that
	// never finish one do not hold a goroutine and a socket; default 10s.
	HandshakeTimeout time.Duration
}

func (o *TLSOptions) validate() error {
	if o.CertFile == "" || o.KeyFile == "" {
		return errors.New("syslog: TLS listeners need a certificate and key file")
	}
	if o.ClientAuth >= tls.VerifyClientCertIfGiven && o.ClientCAFile == "" {
		return fmt.Errorf("syslog: TLS client auth %v needs a client CA file", o.ClientAuth)
	}
	if o.MinVersion == 0 {
		o.MinVersion = tls.VersionTLS12
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	return nil
}

// fileStamp tells whether a file changed since it was read. The inode
// catches Kubernetes Secret updates (a symlink swapped to a new file that
// may have the old size and time); size and time catch rewrites in place.
type fileStamp struct {
	modNanos, size int64
	inode          uint64
}

// tlsFiles hands each handshake a config built from the certificate, key
// and client CA files, reading them again only when a stat shows a change:
// cert-manager rotations apply without a restart, and a half-written or
// broken pair keeps the last good one in use.
type tlsFiles struct {
	opts   TLSOptions
	logger *slog.Logger

	mu       sync.Mutex
	loaded   [3]fileStamp
	current  *tls.Config
	notAfter time.Time
	// failed and lastErr keep a broken rotation from being re-read and
	// logged at every handshake.
	failed  [3]fileStamp
	lastErr string
}

func newTLSFiles(o TLSOptions, logger *slog.Logger) (*tlsFiles, error) {
	f := &tlsFiles{opts: o, logger: logger}
	stamps, err := f.stat()
	if err != nil {
		return nil, err
	}
	cfg, leaf, err := f.load()
	if err != nil {
		return nil, err
	}
	f.loaded, f.current, f.notAfter = stamps, cfg, leaf.NotAfter
	logger.Info("syslog TLS certificate", "file", o.CertFile, "subject", leaf.Subject.String(), "sha256", Fingerprint(leaf), "not_after", leaf.NotAfter.UTC())
	return f, nil
}

func (f *tlsFiles) stat() ([3]fileStamp, error) {
	var stamps [3]fileStamp
	for i, p := range []string{f.opts.CertFile, f.opts.KeyFile, f.opts.ClientCAFile} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return stamps, fmt.Errorf("cannot read TLS file: %w", err)
		}
		stamps[i] = fileStamp{modNanos: fi.ModTime().UnixNano(), size: fi.Size()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			stamps[i].inode = st.Ino
		}
	}
	return stamps, nil
}

func (f *tlsFiles) load() (*tls.Config, *x509.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.opts.CertFile, f.opts.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot load TLS certificate %s with key %s: %w", f.opts.CertFile, f.opts.KeyFile, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   f.opts.ClientAuth,
		MinVersion:   f.opts.MinVersion,
	}
	if f.opts.ClientCAFile != "" {
		pem, err := os.ReadFile(f.opts.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read client CA file: %w", err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("client CA file %s holds no PEM certificate", f.opts.ClientCAFile)
		}
	}
	return cfg, cert.Leaf, nil
}

// config is the listener's GetConfigForClient.
func (f *tlsFiles) config(*tls.ClientHelloInfo) (*tls.Config, error) {
	stamps, err := f.stat()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && (stamps == f.loaded || stamps == f.failed) {
		return f.current, nil
	}
	var cfg *tls.Config
	var leaf *x509.Certificate
	if err == nil {
		cfg, leaf, err = f.load()
	}
	if err != nil {
		f.failed = stamps
		if err.Error() != f.lastErr {
			f.lastErr = err.Error()
			f.logger.Error("cannot reload the syslog TLS certificate; keeping the previous one", "err", err)
		}
		return f.current, nil
	}
	f.loaded, f.current, f.notAfter, f.failed, f.lastErr = stamps, cfg, leaf.NotAfter, [3]fileStamp{}, ""
	f.logger.Info("reloaded the syslog TLS certificate", "subject", leaf.Subject.String(), "sha256", Fingerprint(leaf), "not_after", leaf.NotAfter.UTC())
	return cfg, nil
}

func (f *tlsFiles) expiry() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return float64(f.notAfter.Unix())
}

// Fingerprint is the SHA-256 of a certificate's DER form, as operators pin
// it on gear (colon-separated hex).
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// handshakeFailureReasons label kusanagi_syslog_tls_handshake_failures_total.
var handshakeFailureReasons = []string{"timeout", "not_tls", "no_client_certificate", "bad_client_certificate", "rejected_by_client", "closed", "other"}

// handshakeFailure names why a handshake failed, for the metric: an
// operator tells a sender with the wrong CA (rejected_by_client) from one
// without a client certificate or plain syslog sent to the TLS port.
func handshakeFailure(err error) string {
	var op *net.OpError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, new(tls.RecordHeaderError)):
		return "not_tls"
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return "bad_client_certificate"
	case strings.Contains(err.Error(), "client didn't provide a certificate"):
		return "no_client_certificate"
	case errors.As(err, &op) && op.Op == "remote error":
		return "rejected_by_client"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "closed"
	}
	return "other"
}
