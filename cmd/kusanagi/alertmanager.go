package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/kusanagi-dev/kusanagi/amfork"
)

// alertmanagerCommand is `kusanagi alertmanager`: upstream Alertmanager's
// flags where they apply, plus where etcd is.
type alertmanagerCommand struct {
	cmd       *kingpin.CmdClause
	newLogger func() *slog.Logger
	opts      amfork.Options
	endpoints *[]string
	memLimit  memLimitFlags
}

// memLimitFlags are upstream's --auto-gomemlimit flags: in a container the
// Go runtime does not know its memory limit, and collects garbage late.
type memLimitFlags struct {
	enabled *bool
	ratio   *float64
	refresh *time.Duration
}

func newAlertmanagerCommand(app *kingpin.Application, newLogger func() *slog.Logger) *alertmanagerCommand {
	c := &alertmanagerCommand{newLogger: newLogger}
	c.cmd = app.Command("alertmanager", "Run the Alertmanager, its alerts, silences and notification log kept in etcd.")
	o := &c.opts
	c.cmd.Flag("config.file", "Alertmanager configuration file (upstream format).").Default("alertmanager.yml").StringVar(&o.ConfigFile)
	c.cmd.Flag("storage.path", "Base path for data; the embedded etcd lives here when no --etcd.endpoints are given.").Default("data/").StringVar(&o.StoragePath)
	c.cmd.Flag("web.listen-address", "Address to listen on for the web interface and API.").Default("[::]:9093").StringVar(&o.ListenAddress)
	c.cmd.Flag("web.external-url", "The URL under which Alertmanager is externally reachable.").StringVar(&o.ExternalURL)
	c.cmd.Flag("web.route-prefix", "Prefix for the internal routes of web endpoints; defaults to the path of --web.external-url.").StringVar(&o.RoutePrefix)
	c.cmd.Flag("web.config.file", "Path to a configuration file that can enable TLS or authentication (exporter-toolkit).").StringVar(&o.WebConfigFile)
	c.cmd.Flag("data.retention", "How long to keep silences and the notification log.").Default("120h").DurationVar(&o.Retention)
	c.cmd.Flag("alerts.gc-interval", "Interval between deletions of resolved alerts.").Default("30m").DurationVar(&o.AlertGCInterval)
	c.cmd.Flag("cluster.peer-name", "Name of this replica (default: the host name).").StringVar(&o.PeerName)
	c.cmd.Flag("cluster.peer-timeout", "How long replicas other than the notification leader wait before notifying.").Default("2s").DurationVar(&o.PeerTimeout)
	c.endpoints = c.cmd.Flag("etcd.endpoints", "etcd endpoints, comma separated (http://[fd00::1]:2379,...); empty starts an embedded single-member etcd.").Strings()
	c.cmd.Flag("etcd.prefix", "Key prefix of this Alertmanager cluster's state.").Default(amfork.DefaultPrefix).StringVar(&o.Etcd.Prefix)
	c.cmd.Flag("etcd.cert-file", "Client certificate for etcd TLS.").StringVar(&o.Etcd.CertFile)
	c.cmd.Flag("etcd.key-file", "Client key for etcd TLS.").StringVar(&o.Etcd.KeyFile)
	c.cmd.Flag("etcd.ca-file", "CA bundle to verify etcd servers.").StringVar(&o.Etcd.CAFile)
	c.cmd.Flag("etcd.username", "etcd user.").StringVar(&o.Etcd.Username)
	c.cmd.Flag("etcd.password", "etcd password.").Envar("KUSANAGI_ETCD_PASSWORD").StringVar(&o.Etcd.Password)
	c.cmd.Flag("etcd.session-ttl", "How long etcd keeps a dead replica's claims and leadership; bounds failover.").Default("5s").DurationVar(&o.Etcd.SessionTTL)
	c.memLimit.enabled = c.cmd.Flag("auto-gomemlimit", "Set GOMEMLIMIT to a share of the container's (cgroup) memory limit, or of the system's memory.").Default("false").Bool()
	c.memLimit.ratio = c.cmd.Flag("auto-gomemlimit.ratio", "The share of the detected memory limit GOMEMLIMIT is set to.").Default("0.9").Float64()
	c.memLimit.refresh = c.cmd.Flag("auto-gomemlimit.refresh-interval", "How often to detect the memory limit again (it can change, e.g. with a Vertical Pod Autoscaler); 0 detects it once.").Default("0s").Duration()
	return c
}

func (c *alertmanagerCommand) matches(s string) bool { return s == c.cmd.FullCommand() }

func (c *alertmanagerCommand) run(ctx context.Context) error {
	logger := c.newLogger()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("kusanagi"),
	)
	if err := c.memLimit.apply(ctx, logger); err != nil {
		return &exitError{code: 2, err: err}
	}
	o := c.opts
	o.Etcd.Endpoints = splitList(*c.endpoints)
	o.Logger, o.Registerer, o.Gatherer = logger, reg, reg
	am, err := amfork.New(o)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	go func() {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				if err := am.Reload(rctx); err != nil {
					logger.Error("configuration reload failed", "err", err)
				}
				cancel()
			}
		}
	}()
	return am.Run(ctx)
}

// apply sets GOMEMLIMIT as upstream's --auto-gomemlimit does: from the
// cgroup limit, else the system's memory; the library logs the limit it
// sets, and a limit it cannot find is logged, not fatal.
func (f memLimitFlags) apply(ctx context.Context, logger *slog.Logger) error {
	if !*f.enabled {
		return nil
	}
	if *f.ratio <= 0 || *f.ratio > 1 {
		return fmt.Errorf("--auto-gomemlimit.ratio must be greater than 0 and at most 1, not %v", *f.ratio)
	}
	if *f.refresh < 0 {
		return fmt.Errorf("--auto-gomemlimit.refresh-interval must not be negative, not %v", *f.refresh)
	}
	_, err := memlimit.Set(
		memlimit.WithRatio(*f.ratio),
		memlimit.WithRefreshInterval(ctx, *f.refresh),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)),
		memlimit.WithLogger(logger.With("component", "automemlimit")),
	)
	if err != nil {
		logger.Warn("cannot set GOMEMLIMIT automatically", "component", "automemlimit", "err", err)
	}
	return nil
}

// splitList accepts both repeated flags and comma-separated values.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
