package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"

	"github.com/kusanagi-dev/kusanagi/internal/config"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
)

// logStore is a log store and the goroutines it owns.
type logStore interface {
	logs.Store
	Run(ctx context.Context) error
}

// openLogStore opens the configured log store: embedded by default, or
// Elasticsearch / OpenSearch.
func openLogStore(ctx context.Context, cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (logStore, error) {
	if cfg.Storage.Backend != config.BackendElasticsearch {
		return embedded.New(ctx, embedded.Options{
			Dir: filepath.Join(cfg.Storage.Path, "logs"), RetentionDays: cfg.Storage.RetentionDays,
			Logger: logger, Registerer: reg,
		})
	}
	es := cfg.Storage.Elasticsearch
	httpCfg := commoncfg.DefaultHTTPClientConfig
	httpCfg.TLSConfig = commoncfg.TLSConfig{
		CAFile: cfg.Path(es.TLS.CAFile), CertFile: cfg.Path(es.TLS.CertFile), KeyFile: cfg.Path(es.TLS.KeyFile),
		ServerName: es.TLS.ServerName, InsecureSkipVerify: es.TLS.InsecureSkipVerify,
	}
	if es.Username != "" {
		httpCfg.BasicAuth = &commoncfg.BasicAuth{Username: es.Username, Password: commoncfg.Secret(es.Password), PasswordFile: cfg.Path(es.PasswordFile)}
	}
	if es.APIKey != "" || es.APIKeyFile != "" {
		httpCfg.Authorization = &commoncfg.Authorization{Type: "ApiKey", Credentials: commoncfg.Secret(es.APIKey), CredentialsFile: cfg.Path(es.APIKeyFile)}
	}
	if err := httpCfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage: elasticsearch: %w", err)
	}
	spool := filepath.Join(cfg.Storage.Path, "elasticsearch-spool")
	if es.Spool.Path != "" {
		spool = cfg.Path(es.Spool.Path)
	}
	return elasticsearch.New(elasticsearch.Options{
		URLs: es.URLs, Flavor: es.Flavor, DataStream: es.DataStream, Index: es.Index,
		Retention: time.Duration(cfg.Storage.RetentionDays) * 24 * time.Hour,
		HTTP:      httpCfg,
		SpoolDir:  spool, SpoolMaxBytes: int64(es.Spool.MaxBytes),
		FlushBytes: int(es.FlushBytes), FlushInterval: time.Duration(es.FlushInterval), Workers: es.Workers,
		Logger: logger, Registerer: reg,
	})
}

// writerOptions configure the Writer of one source, with its spool in a
// directory of its own: the bound is per source, so that a trap storm
// cannot take the room of syslog lines.
func writerOptions(cfg *config.Config, store logs.Store, source string, logger *slog.Logger, reg prometheus.Registerer) logs.WriterOptions {
	dir := filepath.Join(cfg.Storage.Path, "spool")
	if cfg.Storage.Spool.Path != "" {
		dir = cfg.Path(cfg.Storage.Spool.Path)
	}
	return logs.WriterOptions{
		Store: store, Name: source,
		SpoolDir: filepath.Join(dir, source), SpoolMaxBytes: int64(cfg.Storage.Spool.MaxBytes),
		Logger: logger, Registerer: reg,
	}
}
