package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kusanagi-dev/kusanagi/internal/config"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
	"github.com/kusanagi-dev/kusanagi/traps"
)

// newTrapReceiver builds the trap receiver from the config's traps section.
func newTrapReceiver(cfg *config.Config, catalogue *rules.Reloader, snd *sender.Sender, records *logs.Writer, logger *slog.Logger, reg prometheus.Registerer) (*traps.Receiver, error) {
	tc := cfg.Traps
	var users []traps.User
	for _, u := range tc.Users {
		auth, err := secret(cfg, u.AuthPassphrase, u.AuthPassphraseFile)
		if err != nil {
			return nil, fmt.Errorf("traps: user %q: %w", u.Name, err)
		}
		priv, err := secret(cfg, u.PrivPassphrase, u.PrivPassphraseFile)
		if err != nil {
			return nil, fmt.Errorf("traps: user %q: %w", u.Name, err)
		}
		users = append(users, traps.User{Name: u.Name, AuthProtocol: u.AuthProtocol, AuthPassphrase: auth, PrivProtocol: u.PrivProtocol, PrivPassphrase: priv})
	}
	names := traps.NewNames()
	for _, dir := range tc.MIBDirs {
		errs := names.LoadDir(cfg.Path(dir))
		for _, err := range errs {
			logger.Error("MIB module not loaded", "component", "traps", "err", err)
		}
	}
	return traps.New(traps.Options{
		ListenAddresses:   tc.ListenAddresses,
		ReceiveBuffer:     tc.ReceiveBufferBytes,
		Readers:           tc.Readers,
		Communities:       tc.Communities,
		Users:             users,
		TrustedForwarders: tc.TrustedForwarders,
		FoldWindow:        time.Duration(tc.FoldWindow),
		UnknownTrapAlert:  tc.UnknownTrapAlert,
		Catalogue:         catalogue.Current,
		Changed:           catalogue.Changed,
		Names:             names,
		Sender:            snd,
		Records:           records,
		Logger:            logger,
		Registerer:        reg,
	})
}

// secret returns value, or the content of file (relative to the config).
func secret(cfg *config.Config, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(cfg.Path(file))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
