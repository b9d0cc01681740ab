package syslog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SelfSigned is a generated certificate for the TLS listener.
type SelfSigned struct {
	CertFile, KeyFile string
	Certificate       *x509.Certificate
	// Created is false when an earlier start's certificate was reused.
	Created bool
}

// selfSignedRenewBefore: a certificate this close to expiry is replaced
// at start rather than left to fail while running.
const selfSignedRenewBefore = 30 * 24 * time.Hour

// SelfSignedCertificate returns the certificate kept in dir, generating an
// ECDSA P-256 one on first use. It lets the all-in-one listen on TLS with
// no configuration; senders verify it by its fingerprint or by trusting
// the certificate file itself. It is reused across restarts so that
// pinned fingerprints stay valid, and replaced only near expiry.
func SelfSignedCertificate(dir string, now time.Time) (*SelfSigned, error) {
	s := &SelfSigned{CertFile: filepath.Join(dir, "self-signed.crt"), KeyFile: filepath.Join(dir, "self-signed.key")}
	pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	switch {
	case err == nil && now.Add(selfSignedRenewBefore).Before(pair.Leaf.NotAfter):
		s.Certificate = pair.Leaf
		return s, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cannot load the self-signed certificate (delete %s and %s to make a new one): %w", s.CertFile, s.KeyFile, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the certificate directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot generate a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("cannot generate a serial number: %w", err)
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Kusanagi"}, CommonName: "kusanagi syslog (self-signed) " + host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		// A CA certificate signing itself, so that senders can take the
		// file as their CA file (StreamDriver.CAFile, --tls.ca-file).
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)},
	}
	if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cannot create the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the key: %w", err)
	}
	// The key first: the listener reloads when the certificate changes,
	// and must not find a new certificate with the old key.
	if err := writeFileAtomic(s.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(s.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if s.Certificate, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	s.Created = true
	return s, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
