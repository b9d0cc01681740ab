package amfork

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/api"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/route"
	"github.com/prometheus/exporter-toolkit/web"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/kusanagi-dev/kusanagi/alertstore"
	"github.com/kusanagi-dev/kusanagi/amfork/grouping"
	"github.com/kusanagi-dev/kusanagi/internal/ctxutil"
	"github.com/kusanagi-dev/kusanagi/ipv6"
)

// Alertmanager is one replica. Create it with New and run it with Run.
type Alertmanager struct {
	opts   Options
	logger *slog.Logger

	ready  atomic.Bool
	addr   chan net.Addr
	reload chan chan error
}

// New validates o.
func New(o Options) (*Alertmanager, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.PeerName == "" {
		host, _ := os.Hostname()
		o.PeerName = host
	}
	return &Alertmanager{
		opts:   o,
		logger: o.Logger,
		addr:   make(chan net.Addr, 1),
		reload: make(chan chan error),
	}, nil
}

// Addr waits until the web listener is bound and returns its address.
func (am *Alertmanager) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case a := <-am.addr:
		am.addr <- a
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Reload reads the configuration file again (SIGHUP, POST /-/reload).
func (am *Alertmanager) Reload(ctx context.Context) error {
	errc := make(chan error, 1)
	select {
	case am.reload <- errc:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// etcdClient returns the client of the configured etcd, and its KV API
// when the client has no connection of its own (in-process).
func (am *Alertmanager) etcdClient() (*clientv3.Client, pb.KVClient, func(), error) {
	o := am.opts
	endpoints := o.Etcd.Endpoints
	if o.embeddedEtcd() {
		e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: filepath.Join(o.StoragePath, "etcd")})
		if err != nil {
			return nil, nil, nil, err
		}
		am.logger.Info("started embedded etcd", "component", "alertstore", "endpoints", e.Endpoints(), "dir", filepath.Join(o.StoragePath, "etcd"))
		// In-process calls: no gRPC, HTTP/2 or loopback between the
		// Alertmanager and its own etcd.
		c := v3client.New(e.Etcd.Server)
		return c, e.KV(), func() { c.Close(); e.Close() }, nil
	}
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: o.Etcd.DialTimeout,
		Username:    o.Etcd.Username,
		Password:    o.Etcd.Password,
		// Keepalives notice a dead etcd connection within seconds.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
	}
	if o.Etcd.CertFile != "" || o.Etcd.CAFile != "" {
		info := transport.TLSInfo{CertFile: o.Etcd.CertFile, KeyFile: o.Etcd.KeyFile, TrustedCAFile: o.Etcd.CAFile}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("etcd TLS: %w", err)
		}
		tc.MinVersion = tls.VersionTLS12
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cannot create etcd client: %w", err)
	}
	return c, nil, func() { c.Close() }, nil
}

// Run starts the replica: it loads the whole state from etcd before its
// dispatcher starts, serves until ctx ends, then stops.
func (am *Alertmanager) Run(ctx context.Context) error {
	o := am.opts
	logger := am.logger
	reg := o.Registerer
	if err := os.MkdirAll(o.StoragePath, 0o750); err != nil {
		return fmt.Errorf("cannot create storage path: %w", err)
	}
	initialConf, err := amconfig.LoadFile(o.ConfigFile)
	if err != nil {
		return fmt.Errorf("cannot load configuration file: %w", err)
	}
	client, kv, closeClient, err := am.etcdClient()
	if err != nil {
		return err
	}
	defer closeClient()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	ff := featurecontrol.NoopFlags{}
	var recorder eventrecorder.Recorder
	stopc := make(chan struct{})
	defer close(stopc)

	notificationLog, err := nflog.New(nflog.Options{
		Retention: o.Retention, Logger: logger.With("component", "nflog"), Metrics: reg,
	})
	if err != nil {
		return fmt.Errorf("cannot create the notification log: %w", err)
	}
	silences, err := silence.New(silence.Options{
		Retention: o.Retention, Logger: logger.With("component", "silences"), Metrics: reg, EventRecorder: recorder,
	})
	if err != nil {
		return fmt.Errorf("cannot create silences: %w", err)
	}
	nflogMesh, err := alertstore.NewMesh(alertstore.MeshOptions{
		Client: client, Prefix: o.Etcd.Prefix + "nflog/", Name: "nflog", State: notificationLog,
		Split: alertstore.SplitNotificationLog, Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	silenceMesh, err := alertstore.NewMesh(alertstore.MeshOptions{
		Client: client, Prefix: o.Etcd.Prefix + "silences/", Name: "silences", State: silences,
		Split: alertstore.SplitSilences, Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	silencer := silence.NewSilencer(silences, logger, recorder)
	alerts, err := alertstore.NewAlerts(alertstore.AlertsOptions{
		Client: client, KV: kv, Prefix: o.Etcd.Prefix, Callback: silencer, GCInterval: o.AlertGCInterval,
		Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	coord, err := alertstore.NewCoordinator(alertstore.CoordinatorOptions{
		Client: client, Prefix: o.Etcd.Prefix, Name: o.PeerName, SessionTTL: o.Etcd.SessionTTL,
		Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}

	// The whole state, before anything can notify.
	begin := time.Now()
	for _, load := range []func(context.Context) error{silenceMesh.Load, nflogMesh.Load, alerts.Load} {
		for {
			if err := load(ctx); err != nil {
				logger.Error("cannot load state from etcd, retrying", "component", "alertstore", "err", err)
				if !ctxutil.Sleep(ctx, time.Second) {
					return nil
				}
				continue
			}
			break
		}
	}
	logger.Info("state loaded from etcd", "component", "alertstore", "alerts", alerts.Len(), "took", time.Since(begin))
	wg.Go(func() { silenceMesh.Run(ctx) })
	wg.Go(func() { nflogMesh.Run(ctx) })
	wg.Go(func() { alerts.Run(ctx) })
	wg.Go(func() { coord.Run(ctx) })
	wg.Go(func() { notificationLog.Maintenance(15*time.Minute, "", stopc, nil) })
	wg.Go(func() { silences.Maintenance(15*time.Minute, "", stopc, nil) })

	ln, err := ipv6.Listen(ctx, "tcp", o.ListenAddress)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", o.ListenAddress, err)
	}
	defer ln.Close()
	amURL, err := externalURL(o.ExternalURL, ln.Addr())
	if err != nil {
		return err
	}

	var r *reloader
	groupFn := func(ctx context.Context, routeFilter func(*dispatch.Route) bool, alertFilter dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
		return r.groups(ctx, routeFilter, alertFilter)
	}
	requestDuration := promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alertmanager_http_request_duration_seconds",
		Help:    "Histogram of latencies for HTTP requests.",
		Buckets: prometheus.DefBuckets,
	}, []string{"handler", "method", "code"})
	apiReg := &apiMetricsCapture{Registerer: reg}
	apih, err := api.New(api.Options{
		Alerts:          alerts,
		Silences:        silences,
		Peer:            &clusterPeer{name: o.PeerName, client: client, prefix: o.Etcd.Prefix, coord: coord},
		Timeout:         2 * time.Minute,
		Logger:          logger.With("component", "api"),
		Registry:        apiReg,
		GroupFunc:       groupFn,
		RequestDuration: requestDuration,
	})
	if err != nil {
		return fmt.Errorf("cannot create the API: %w", err)
	}
	firing, resolved, invalid, err := apiReg.counters()
	if err != nil {
		return err
	}
	post := &postAlerts{
		alerts:   alerts,
		firing:   firing,
		resolved: resolved,
		invalid:  invalid,
		logger:   logger.With("component", "api"),
		duration: requestDuration.MustCurryWith(prometheus.Labels{"handler": "/api/v2/alerts"}),
	}
	waitFunc := coord.WaitFunc(o.PeerTimeout)
	r = &reloader{
		alerts:            alerts,
		apih:              apih,
		coord:             coord,
		dispatcherMetrics: grouping.NewMetrics(reg, ff.EnableGroupKeyInMetrics()),
		recorder:          recorder,
		externalURL:       amURL,
		logger:            logger,
		notificationLog:   notificationLog,
		pipelineBuilder:   notify.NewPipelineBuilder(reg, ff, recorder),
		silencer:          silencer,
		waitFunc:          waitFunc,
		timeoutFunc: func(d time.Duration) time.Duration {
			return max(d, notify.MinTimeout) + waitFunc()
		},
		peer:     readyPeer{coord: coord},
		post:     post,
		apiReady: make(chan struct{}),
	}
	defer r.stop()
	coordinator := amconfig.NewCoordinator(o.ConfigFile, reg, logger.With("component", "configuration"))
	coordinator.Subscribe(r.reload)
	applied := make(chan error, 1)
	go func() { applied <- coordinator.ApplyConfig(initialConf) }()
	select {
	case <-r.apiReady:
	case err := <-applied:
		if err != nil {
			return fmt.Errorf("cannot apply the configuration: %w", err)
		}
	}

	routePrefix := o.RoutePrefix
	if routePrefix == "" {
		routePrefix = amURL.Path
	}
	routePrefix = "/" + strings.Trim(routePrefix, "/")
	router := route.New()
	if routePrefix != "/" {
		router.Get("/", func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, routePrefix, http.StatusFound)
		})
		router = router.WithPrefix(routePrefix)
	}
	am.registerLifecycle(router, o)
	registerStatusPage(router, statusData{peer: o.PeerName, coord: coord, alerts: alerts, url: amURL})
	mux := apih.Register(router, routePrefix)
	post.upstream = mux
	srv := &http.Server{Handler: routePostAlerts(mux, post, strings.TrimSuffix(routePrefix, "/")+"/api/v2/alerts"), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	srv.RegisterOnShutdown(apih.Shutdown)

	serveErr := make(chan error, 1)
	webConfig := o.WebConfigFile
	go func() {
		serveErr <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfig}, logger.With("component", "web"))
	}()
	am.addr <- ln.Addr()
	am.ready.Store(true)
	logger.Info("alertmanager ready", "peer", o.PeerName, "address", ln.Addr().String(), "external_url", amURL.String())

	for {
		select {
		case err := <-applied:
			if err != nil {
				return fmt.Errorf("cannot apply the configuration: %w", err)
			}
			applied = nil
			logger.Info("dispatcher loaded", "took", time.Since(begin))
		case <-ctx.Done():
			am.ready.Store(false)
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := srv.Shutdown(sctx)
			scancel()
			return err
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("web server: %w", err)
		case errc := <-am.reload:
			errc <- coordinator.Reload()
		}
	}
}

func (am *Alertmanager) registerLifecycle(router *route.Router, o Options) {
	var gatherer prometheus.Gatherer = o.Gatherer
	if o.embeddedEtcd() {
		gatherer = prometheus.Gatherers{o.Gatherer, alertstore.EmbeddedMetrics}
	}
	router.Get("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}).ServeHTTP)
	router.Get("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "OK") })
	router.Head("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {})
	ready := func(w http.ResponseWriter, _ *http.Request) {
		if !am.ready.Load() {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "OK")
	}
	router.Get("/-/ready", ready)
	router.Head("/-/ready", ready)
	reload := func(w http.ResponseWriter, req *http.Request) {
		if err := am.Reload(req.Context()); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
		}
	}
	router.Post("/-/reload", reload)
	router.Put("/-/reload", reload)
	// Profiling, as upstream's httpserver exposes it.
	router.Get("/debug/pprof/*subpath", func(w http.ResponseWriter, req *http.Request) {
		switch sub := strings.Trim(route.Param(req.Context(), "subpath"), "/"); sub {
		case "profile":
			pprof.Profile(w, req)
		case "trace":
			pprof.Trace(w, req)
		case "":
			pprof.Index(w, req)
		default:
			pprof.Handler(sub).ServeHTTP(w, req)
		}
	})
}

// externalURL is --web.external-url, or one built from the listen
// address, bracketing IPv6 literals.
func externalURL(external string, listen net.Addr) (*url.URL, error) {
	if external != "" {
		u, err := url.Parse(external)
		if err != nil {
			return nil, err
		}
		u.Path = strings.TrimRight(u.Path, "/")
		return u, nil
	}
	ap, err := netip.ParseAddrPort(listen.String())
	if err != nil {
		return nil, fmt.Errorf("cannot derive the external URL from %s: %w", listen, err)
	}
	host := ap.String() // brackets IPv6 literals
	if ap.Addr().IsUnspecified() {
		// Listening everywhere: name the host, as upstream does.
		if name, err := os.Hostname(); err == nil {
			host = net.JoinHostPort(name, strconv.Itoa(int(ap.Port())))
		}
	}
	return &url.URL{Scheme: "http", Host: host}, nil
}
