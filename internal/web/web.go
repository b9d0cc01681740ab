// Package web serves Kusanagi's own HTTP endpoints on the web port (9180):
// /metrics, the Prometheus-style lifecycle endpoints /-/healthy, /-/ready
// and /-/reload, the catalogue as JSON, and a status page.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kusanagi-dev/kusanagi/ipv6"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/logeval"
)

// Options configure a Server.
type Options struct {
	ListenAddress string
	Gatherer      prometheus.Gatherer
	// Reload reloads the catalogue (POST /-/reload).
	Reload func() error
	// Catalogue returns the catalogue in force.
	Catalogue func() *rules.Catalogue
	// Logs, when set, is searched by GET /api/v1/logs.
	Logs logs.Store
	// Rules, when set, lists the log rules (GET /rules, /api/v1/rules).
	Rules  func() []logeval.RuleStatus
	Logger *slog.Logger
}

// Server is the web endpoint.
type Server struct {
	opts    Options
	logger  *slog.Logger
	handler http.Handler

	mu    sync.Mutex
	ln    net.Listener
	bound chan struct{}
	ready bool
}

// New validates o and returns a Server; it listens when Run is called.
func New(o Options) (*Server, error) {
	if _, _, err := ipv6.SplitListenAddress(o.ListenAddress); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if o.Gatherer == nil || o.Reload == nil || o.Catalogue == nil {
		return nil, errors.New("web: Gatherer, Reload and Catalogue are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, logger: o.Logger.With("component", "web"), bound: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Kusanagi is Healthy.")
	})
	mux.HandleFunc("GET /-/ready", s.serveReady)
	mux.HandleFunc("/-/reload", s.serveReload)
	mux.HandleFunc("GET /api/v1/catalogue", s.serveCatalogue)
	mux.HandleFunc("GET /api/v1/logs", s.serveLogs)
	mux.HandleFunc("GET /api/v1/rules", s.serveRules)
	mux.HandleFunc("GET /rules", s.serveRules)
	mux.HandleFunc("GET /{$}", s.serveStatus)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	s.handler = mux
	return s, nil
}

// Handler returns the server's routes, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// SetReady marks the server ready (GET /-/ready answers 200).
func (s *Server) SetReady(ready bool) {
	s.mu.Lock()
	s.ready = ready
	s.mu.Unlock()
}

// Addr waits until Run has bound its socket and returns the address.
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.bound:
		return s.ln.Addr(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run listens and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := ipv6.Listen(ctx, "tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.opts.ListenAddress, err)
	}
	s.ln = ln
	close(s.bound)
	s.logger.Info("listening", "address", ln.Addr().String())
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("cannot shut the web server down: %w", err)
	}
	<-errc
	return nil
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	if !ready {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "Kusanagi is Ready.")
}

// serveReload answers like Prometheus's /-/reload: POST or PUT only, 500
// with the reason when the new catalogue is rejected.
func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := s.opts.Reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload catalogue:\n%v", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "catalogue reloaded")
}

func (s *Server) serveCatalogue(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"status": "success", "data": s.opts.Catalogue()}); err != nil {
		s.logger.Debug("cannot write catalogue response", "err", err)
	}
}
