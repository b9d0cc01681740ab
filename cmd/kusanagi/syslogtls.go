package main

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/kusanagi-dev/kusanagi/internal/config"
	"github.com/kusanagi-dev/kusanagi/logs/syslog"
)

// syslogTLS turns the checked config into the TLS listeners' options.
// With no certificate configured it makes a self-signed one in the data
// directory (or reuses the one made before), so that the TLS port works
// out of the box and its fingerprint stays the same across restarts.
func syslogTLS(cfg *config.Config, logger *slog.Logger) (syslog.TLSOptions, error) {
	t := cfg.Syslog.TLS
	o := syslog.TLSOptions{
		CertFile:     cfg.Path(t.CertFile),
		KeyFile:      cfg.Path(t.KeyFile),
		ClientCAFile: cfg.Path(t.ClientCAFile),
		ClientAuth:   config.TLSClientAuthTypes[t.ClientAuthType],
		MinVersion:   config.TLSVersions[t.MinVersion],
	}
	if len(cfg.Syslog.TLSListenAddresses) == 0 || o.CertFile != "" {
		return o, nil
	}
	ss, err := syslog.SelfSignedCertificate(filepath.Join(cfg.Storage.Path, "syslog-tls"), time.Now())
	if err != nil {
		return o, err
	}
	if ss.Created {
		logger.Info("generated a self-signed certificate for syslog over TLS; set syslog.tls.cert_file for one senders can verify by CA",
			"component", "syslog", "file", ss.CertFile, "sha256", syslog.Fingerprint(ss.Certificate))
	}
	o.CertFile, o.KeyFile = ss.CertFile, ss.KeyFile
	return o, nil
}
