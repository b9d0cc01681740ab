package main

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/kusanagi-dev/kusanagi/amfork"
	"github.com/kusanagi-dev/kusanagi/examples"
	"github.com/kusanagi-dev/kusanagi/internal/config"
	"github.com/kusanagi-dev/kusanagi/internal/web"
	"github.com/kusanagi-dev/kusanagi/ipv6"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/syslog"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/logeval"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// embeddedConfigName names the built-in configuration in logs and errors.
const embeddedConfigName = "(embedded)/kusanagi.yml"

// serveCommand runs long-lived components: `run` (all-in-one) and `rules`.
type serveCommand struct {
	cmd         *kingpin.CmdClause
	newLogger   func() *slog.Logger
	configFile  *string
	dataDir     *string
	listenAddr  *string
	amAddr      *string
	trapAddrs   *[]string
	syslogAddrs *[]string
	syslogTLS   *[]string

	// ready, when set, receives the web address once serving (tests).
	ready chan<- string
}

func newServeCommand(app *kingpin.Application, name, help string, newLogger func() *slog.Logger) *serveCommand {
	c := &serveCommand{newLogger: newLogger}
	c.cmd = app.Command(name, help)
	c.configFile = c.cmd.Flag("config.file", "Kusanagi configuration file; the embedded defaults (examples/) when empty.").String()
	c.dataDir = c.cmd.Flag("data.dir", "Directory for state; overrides storage.path of the configuration.").String()
	c.listenAddr = c.cmd.Flag("web.listen-address", "Address for the web endpoints; overrides web.listen_address.").String()
	if c.runs("alertmanager") {
		c.amAddr = c.cmd.Flag("alertmanager.listen-address", "Address of the embedded Alertmanager; overrides alertmanager.listen_address.").String()
	}
	if c.runs("traps") {
		c.trapAddrs = c.cmd.Flag("traps.listen-address", "Trap listen address (repeatable); overrides traps.listen_addresses.").Strings()
	}
	if c.runs("syslog") {
		c.syslogAddrs = c.cmd.Flag("syslog.listen-address", "Syslog listen address for both UDP and TCP (repeatable); overrides syslog.udp_listen_addresses and tcp_listen_addresses.").Strings()
		c.syslogTLS = c.cmd.Flag("syslog.tls-listen-address", "Syslog over TLS listen address (repeatable); overrides syslog.tls_listen_addresses.").Strings()
	}
	return c
}

func (c *serveCommand) matches(s string) bool { return s == c.cmd.FullCommand() }

// components says what each serving command runs; the catalogue, the
// sender, the web endpoints and the log store run in all of them.
var components = map[string][]string{
	"run":    {"logeval", "traps", "syslog", "alertmanager"},
	"rules":  {"logeval"},
	"traps":  {"traps"},
	"syslog": {"syslog"},
}

func (c *serveCommand) runs(component string) bool {
	return slices.Contains(components[c.cmd.FullCommand()], component)
}

// loadConfig reads --config.file, or the embedded default configuration.
func (c *serveCommand) loadConfig() (*config.Config, func() ([]rules.File, error), []string, error) {
	if *c.configFile == "" {
		src, err := fs.ReadFile(examples.FS, "kusanagi.yml")
		if err != nil {
			return nil, nil, nil, err
		}
		cfg, err := config.Parse(embeddedConfigName, src)
		if err != nil {
			return nil, nil, nil, err
		}
		read := func() ([]rules.File, error) {
			var files []rules.File
			for _, name := range cfg.Catalogue.Files {
				src, err := fs.ReadFile(examples.FS, path.Clean(name))
				if err != nil {
					return nil, fmt.Errorf("embedded catalogue: %w", err)
				}
				files = append(files, rules.File{Name: "(embedded)/" + name, Src: src})
			}
			return files, nil
		}
		return cfg, read, nil, nil
	}
	cfg, err := config.LoadFile(*c.configFile)
	if err != nil {
		return nil, nil, nil, err
	}
	first, err := cfg.CatalogueFiles()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", *c.configFile, err)
	}
	read := func() ([]rules.File, error) {
		paths, err := cfg.CatalogueFiles()
		if err != nil {
			return nil, err
		}
		var files []rules.File
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("cannot read catalogue: %w", err)
			}
			files = append(files, rules.File{Name: p, Src: src})
		}
		return files, nil
	}
	return cfg, read, first, nil
}

func (c *serveCommand) run(ctx context.Context) error {
	logger := c.newLogger()
	cfg, read, watch, err := c.loadConfig()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if *c.dataDir != "" {
		cfg.Storage.Path = *c.dataDir
	}
	if *c.listenAddr != "" {
		cfg.Web.ListenAddress = *c.listenAddr
	}
	if c.amAddr != nil && *c.amAddr != "" {
		cfg.Alertmanager.ListenAddress = *c.amAddr
	}
	if c.trapAddrs != nil && len(*c.trapAddrs) > 0 {
		cfg.Traps.ListenAddresses = *c.trapAddrs
	}
	if c.syslogAddrs != nil && len(*c.syslogAddrs) > 0 {
		cfg.Syslog.UDPListenAddresses, cfg.Syslog.TCPListenAddresses = *c.syslogAddrs, *c.syslogAddrs
	}
	if c.syslogTLS != nil && len(*c.syslogTLS) > 0 {
		cfg.Syslog.TLSListenAddresses = *c.syslogTLS
	}
	if err := os.MkdirAll(cfg.Storage.Path, 0o750); err != nil {
		return fmt.Errorf("cannot create data directory: %w", err)
	}
	logger.Info("starting kusanagi", "command", c.cmd.FullCommand(), "version", version.Info(), "config", cmp.Or(cfg.File, embeddedConfigName), "data_dir", cfg.Storage.Path)

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("kusanagi"),
	)

	reloader, err := rules.NewReloader(rules.ReloaderOptions{Read: read, Watch: watch, Registerer: reg, Logger: logger})
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("cannot load the catalogue:\n%w", err)}
	}
	snd, err := sender.New(sender.Options{
		Alertmanagers: cfg.Alerting.Alertmanagers,
		QueueCapacity: cfg.Alerting.QueueCapacity,
		MaxBatchSize:  cfg.Alerting.MaxBatchSize,
		Timeout:       time.Duration(cfg.Alerting.Timeout),
		Registerer:    reg,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	store, err := openLogStore(ctx, cfg, logger, reg)
	if err != nil {
		return err
	}
	defer store.Close()
	var ev *logeval.Evaluator
	var rulesStatus func() []logeval.RuleStatus
	var rulesClient *clientv3.Client
	if c.runs("logeval") {
		var state logeval.StateStore
		if eps := cfg.Rules.EtcdEndpoints; len(eps) > 0 && c.cmd.FullCommand() == "rules" {
			rulesClient, err = clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
			if err != nil {
				return fmt.Errorf("rules: cannot create etcd client: %w", err)
			}
			defer rulesClient.Close()
			state = &logeval.EtcdState{Client: rulesClient, Prefix: cfg.Rules.EtcdPrefix}
		}
		ev, err = logeval.New(logeval.Options{
			Catalogue: reloader.Current, Changed: reloader.Changed, Store: store, Sender: snd, State: state,
			ExternalURL: webURL(cfg), Logger: logger, Registerer: reg,
		})
		if err != nil {
			return err
		}
		rulesStatus = ev.Status
	}
	srv, err := web.New(web.Options{
		Rules:         rulesStatus,
		Logs:          store,
		ListenAddress: cfg.Web.ListenAddress,
		Gatherer:      reg,
		Reload:        reloader.Reload,
		Catalogue:     reloader.Current,
		Logger:        logger,
	})
	if err != nil {
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return store.Run(ctx) })
	if ev != nil {
		if rulesClient != nil {
			name := cfg.Rules.PeerName
			if name == "" {
				name, _ = os.Hostname()
			}
			g.Go(func() error {
				return logeval.RunElected(ctx, ev, rulesClient, cfg.Rules.EtcdPrefix, name, time.Duration(cfg.Rules.SessionTTL), logger)
			})
		} else {
			g.Go(func() error { return ev.Run(ctx) })
		}
	}
	if c.runs("syslog") {
		syslogWriter, err := logs.NewWriter(writerOptions(cfg, store, "syslog", logger, reg))
		if err != nil {
			return err
		}
		tlsOpts, err := syslogTLS(cfg, logger)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		srv, err := syslog.New(syslog.Options{
			UDPAddresses: cfg.Syslog.UDPListenAddresses, TCPAddresses: cfg.Syslog.TCPListenAddresses,
			TLSAddresses: cfg.Syslog.TLSListenAddresses, TLS: tlsOpts,
			Profiles: syslogProfiles(cfg), Records: syslogWriter, Logger: logger, Registerer: reg,
		})
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		g.Go(func() error { return srv.Run(ctx) })
		g.Go(func() error { return syslogWriter.Run(ctx) })
	}
	if c.runs("traps") {
		recordWriter, err := logs.NewWriter(writerOptions(cfg, store, "traps", logger, reg))
		if err != nil {
			return err
		}
		rcv, err := newTrapReceiver(cfg, reloader, snd, recordWriter, logger, reg)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		g.Go(func() error { return rcv.Run(ctx) })
		g.Go(func() error { return recordWriter.Run(ctx) })
	}
	if c.runs("alertmanager") {
		am, err := c.embeddedAlertmanager(cfg, logger, reg)
		if err != nil {
			return err
		}
		g.Go(func() error { return am.Run(ctx) })
	}
	g.Go(func() error { return reloader.Run(ctx) })
	g.Go(func() error { return snd.Run(ctx) })
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return reloadOnSIGHUP(ctx, reloader, logger) })
	g.Go(func() error {
		addr, err := srv.Addr(ctx)
		if err != nil {
			return nil
		}
		srv.SetReady(true)
		if c.ready != nil {
			c.ready <- addr.String()
		}
		return nil
	})
	err = g.Wait()
	logger.Info("stopped", "err", err)
	return err
}

// embeddedAlertmanager is the all-in-one's Alertmanager: the config's
// alertmanager section, its state in an embedded etcd under the data
// directory.
func (c *serveCommand) embeddedAlertmanager(cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry) (*amfork.Alertmanager, error) {
	amConfig := cfg.Path(cfg.Alertmanager.ConfigFile)
	if *c.configFile == "" || amConfig == "" {
		// The embedded default: upstream's loader reads files, so write it out.
		src, err := fs.ReadFile(examples.FS, "alertmanager.yml")
		if err != nil {
			return nil, err
		}
		amConfig = filepath.Join(cfg.Storage.Path, "alertmanager.yml")
		if err := os.WriteFile(amConfig, src, 0o640); err != nil {
			return nil, fmt.Errorf("cannot write the default Alertmanager configuration: %w", err)
		}
	}
	return amfork.New(amfork.Options{
		ConfigFile:    amConfig,
		StoragePath:   filepath.Join(cfg.Storage.Path, "alertmanager"),
		ListenAddress: cfg.Alertmanager.ListenAddress,
		Logger:        logger,
		Registerer:    reg,
		Gatherer:      reg,
	})
}

// syslogProfiles turns the checked config into parser profiles.
func syslogProfiles(cfg *config.Config) []syslog.SourceProfile {
	var out []syslog.SourceProfile
	for _, p := range cfg.Syslog.Profiles {
		sp := syslog.SourceProfile{Profile: syslog.Profile{HostName: p.HostName, Dialect: p.Dialect}}
		for abbr, offset := range p.TimeZones {
			if sp.Profile.Zones == nil {
				sp.Profile.Zones = syslog.ZoneTable{}
			}
			sp.Profile.Zones[abbr], _ = syslog.ParseOffset(offset)
		}
		if p.TimeZone != "" {
			sp.Profile.Location, _ = time.LoadLocation(p.TimeZone)
		}
		for _, s := range p.Sources {
			if pfx, err := netip.ParsePrefix(s); err == nil {
				sp.Sources = append(sp.Sources, pfx.Masked())
			} else if a, err := netip.ParseAddr(s); err == nil {
				sp.Sources = append(sp.Sources, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
		}
		out = append(out, sp)
	}
	return out
}

// webURL is how alerts link back to the log search: web.external_url, or
// the listen address made dialable.
func webURL(cfg *config.Config) string {
	if cfg.Web.ExternalURL != "" {
		return cfg.Web.ExternalURL
	}
	host, err := ipv6.URLHost(cfg.Web.ListenAddress)
	if err != nil {
		return ""
	}
	return "http://" + host
}

func reloadOnSIGHUP(ctx context.Context, r *rules.Reloader, logger *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			logger.Info("SIGHUP: reloading the catalogue")
			r.Reload() // the reloader logs a rejected catalogue
		}
	}
}
