// Package amfork is an Alertmanager assembled from upstream Alertmanager's
// own packages (api, dispatch, inhibit, silence, nflog, notify, config,
// template, timeinterval) with its state kept in etcd by alertstore. The
// wiring is ours because upstream's app package has no way to plug in an
// alert store; the configuration file, API v2, amtool and the receivers are
// upstream's, unchanged.
package amfork

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kusanagi-dev/kusanagi/ipv6"
)

// Options configure an Alertmanager. Flags follow upstream's names.
type Options struct {
	ConfigFile    string        // --config.file
	StoragePath   string        // --storage.path: the embedded etcd's data
	ListenAddress string        // --web.listen-address
	ExternalURL   string        // --web.external-url
	RoutePrefix   string        // --web.route-prefix
	WebConfigFile string        // --web.config.file (TLS, basic auth)
	Retention     time.Duration // --data.retention
	PeerName      string        // --cluster.peer-name
	// PeerTimeout is how long replicas other than the leader wait before
	// notifying (--cluster.peer-timeout).
	PeerTimeout time.Duration
	// AlertGCInterval is --alerts.gc-interval.
	AlertGCInterval time.Duration

	Etcd EtcdOptions

	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// EtcdOptions say where the state lives.
type EtcdOptions struct {
	// Endpoints of an external etcd cluster; empty starts an embedded
	// single-member etcd in StoragePath.
	Endpoints []string
	// Prefix of this Alertmanager cluster's keys.
	Prefix                    string
	CertFile, KeyFile, CAFile string
	Username, Password        string
	DialTimeout               time.Duration
	// SessionTTL bounds how long a dead replica keeps its claims.
	SessionTTL time.Duration
}

// DefaultPrefix is where state lives unless --etcd.prefix says otherwise.
const DefaultPrefix = "/kusanagi/alertmanager/"

// embeddedEtcd reports whether the state lives in an etcd this process
// starts: no endpoints given.
func (o *Options) embeddedEtcd() bool { return len(o.Etcd.Endpoints) == 0 }

func (o *Options) validate() error {
	var errs []error
	if o.ConfigFile == "" {
		errs = append(errs, errors.New("--config.file is required"))
	}
	if o.StoragePath == "" {
		o.StoragePath = "data/"
	}
	if o.ListenAddress == "" {
		o.ListenAddress = "[::]:9093"
	}
	if _, _, err := ipv6.SplitListenAddress(o.ListenAddress); err != nil {
		errs = append(errs, fmt.Errorf("--web.listen-address: %w", err))
	}
	if o.ExternalURL != "" {
		if u, err := url.Parse(o.ExternalURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--web.external-url %q must be an absolute URL", o.ExternalURL))
		}
	}
	if o.Retention <= 0 {
		o.Retention = 120 * time.Hour
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 2 * time.Second
	}
	if o.AlertGCInterval <= 0 {
		o.AlertGCInterval = 30 * time.Minute
	}
	if o.Etcd.Prefix == "" {
		o.Etcd.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(o.Etcd.Prefix, "/") || !strings.HasSuffix(o.Etcd.Prefix, "/") {
		errs = append(errs, fmt.Errorf("--etcd.prefix %q must start and end with /", o.Etcd.Prefix))
	}
	for _, ep := range o.Etcd.Endpoints {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--etcd.endpoints: %q must be http(s)://host:port (IPv6 in brackets)", ep))
		}
	}
	if o.Etcd.DialTimeout <= 0 {
		o.Etcd.DialTimeout = 5 * time.Second
	}
	if o.Etcd.SessionTTL <= 0 {
		o.Etcd.SessionTTL = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil || o.Gatherer == nil {
		reg := prometheus.NewRegistry()
		o.Registerer, o.Gatherer = reg, reg
	}
	return errors.Join(errs...)
}
