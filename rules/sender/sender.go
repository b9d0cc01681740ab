// Package sender delivers alerts to Alertmanager API v2, the way Prometheus
// does, to every configured Alertmanager, in batches, from a bounded queue
// per Alertmanager, and with retries.
//
// It does not use Prometheus's notifier package: that drops a batch when a
// send fails (Prometheus relies on re-sending every evaluation, but a trap's
// resolve is sent once and must not be lost), it needs a full Prometheus
// config and service discovery to know its Alertmanagers, and its metrics
// are named prometheus_notifications_*.
package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/kusanagi-dev/kusanagi/internal/opts"
)

// Alert is an alert as Alertmanager API v2 takes it (PostableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Options configure a Sender.
type Options struct {
	// Alertmanagers are base URLs (http://[fd00::1]:9093, or with a path
	// prefix when Alertmanager runs with --web.route-prefix).
	Alertmanagers []string
	// QueueCapacity bounds each Alertmanager's queue; when it is full the
	// oldest alerts are dropped. Default 10000.
	QueueCapacity int
	// MaxBatchSize is the most alerts sent in one request. Default 256.
	MaxBatchSize int
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries of a failed
	// batch. Defaults 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration
	// DrainTimeout is how long Run keeps sending what is queued after its
	// context ends, so resolves sent at shutdown still go out. Default 5s.
	DrainTimeout time.Duration
	Client       *http.Client
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
}

func (o *Options) validate() error {
	if len(o.Alertmanagers) == 0 {
		return errors.New("no Alertmanager URLs")
	}
	opts.Default(&o.QueueCapacity, 10000)
	opts.Default(&o.MaxBatchSize, 256)
	opts.Default(&o.Timeout, 10*time.Second)
	opts.Default(&o.MinBackoff, 100*time.Millisecond)
	opts.Default(&o.MaxBackoff, 10*time.Second)
	opts.Default(&o.DrainTimeout, 5*time.Second)
	if o.QueueCapacity < 0 || o.MaxBatchSize < 0 || o.Timeout < 0 || o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff {
		return fmt.Errorf("invalid sender options: queue capacity %d, batch size %d, timeout %s, backoff %s..%s",
			o.QueueCapacity, o.MaxBatchSize, o.Timeout, o.MinBackoff, o.MaxBackoff)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// Sender queues alerts and delivers them. Create it with New, start it with
// Run, then call Send from any goroutine.
type Sender struct {
	opts    Options
	logger  *slog.Logger
	targets []*target
	metrics *metrics
}

type target struct {
	url     string // the POST URL
	name    string // the base URL, as configured, for metrics and logs
	queue   *queue
	metrics *targetMetrics
}

// New validates o and returns a Sender.
func New(o Options) (*Sender, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Sender{opts: o, logger: o.Logger.With("component", "sender")}
	s.metrics = newMetrics(o.Registerer, o.QueueCapacity)
	seen := map[string]bool{}
	for _, raw := range o.Alertmanagers {
		post, err := postURL(raw)
		if err != nil {
			return nil, err
		}
		if seen[post] {
			return nil, fmt.Errorf("alertmanager %q is listed twice", raw)
		}
		seen[post] = true
		s.targets = append(s.targets, &target{
			url:     post,
			name:    raw,
			queue:   newQueue(o.QueueCapacity),
			metrics: s.metrics.forTarget(raw),
		})
	}
	return s, nil
}

// postURL turns an Alertmanager base URL into its API v2 alerts endpoint.
func postURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("invalid alertmanager URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid alertmanager URL %q: want http(s)://host:port[/prefix] (IPv6 in brackets)", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/alerts"
	return u.String(), nil
}

// Send queues alerts for every Alertmanager and returns at once. The
// alerts' maps must not be changed afterwards. Alerts
// that Alertmanager would reject are not queued, because one of them
// would make it refuse the whole batch; the error names each.
func (s *Sender) Send(alerts ...Alert) error {
	var errs []error
	for i := range alerts {
		a := new(Alert)
		*a = alerts[i]
		if err := validate(a); err != nil {
			errs = append(errs, err)
			s.metrics.invalid.Inc()
			continue
		}
		fp := model.LabelsToSignature(a.Labels)
		for _, t := range s.targets {
			if dropped := t.queue.push(fp, a); dropped > 0 {
				t.metrics.droppedFull.Add(float64(dropped))
				s.logger.Warn("queue full, dropped oldest alerts", "alertmanager", t.name, "dropped", dropped)
			}
			t.metrics.queueLength.Set(float64(t.queue.len()))
		}
	}
	return errors.Join(errs...)
}

func validate(a *Alert) error {
	if len(a.Labels) == 0 {
		return errors.New("cannot send an alert without labels")
	}
	for k, v := range a.Labels {
		if !model.LegacyValidation.IsValidLabelName(k) {
			return fmt.Errorf("cannot send alert %v: invalid label name %q", a.Labels, k)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("cannot send alert %v: label %q is not valid UTF-8", a.Labels, k)
		}
	}
	if !a.StartsAt.IsZero() && !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return fmt.Errorf("cannot send alert %v: endsAt %s is before startsAt %s", a.Labels, a.EndsAt, a.StartsAt)
	}
	return nil
}

// Run delivers queued alerts until ctx ends, then keeps sending for up to
// DrainTimeout so that what was queued last (often resolves) still goes out.
func (s *Sender) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Go(func() { s.loop(ctx, t) })
	}
	wg.Wait()
	return nil
}

func (s *Sender) loop(ctx context.Context, t *target) {
	backoff := s.opts.MinBackoff
	for {
		select {
		case <-ctx.Done():
			s.drain(t)
			return
		case <-t.queue.ready:
		}
		for {
			batch := t.queue.pop(s.opts.MaxBatchSize)
			if len(batch) == 0 {
				break
			}
			t.metrics.queueLength.Set(float64(t.queue.len()))
			err := s.post(ctx, t, batch)
			if err == nil {
				backoff = s.opts.MinBackoff
				continue
			}
			var rejected *rejectedError
			if errors.As(err, &rejected) {
				t.metrics.droppedRejected.Add(float64(len(batch)))
				s.logger.Error("alertmanager rejected alerts, not retrying", "alertmanager", t.name, "count", len(batch), "err", err)
				continue
			}
			if dropped := t.queue.requeue(batch); dropped > 0 {
				t.metrics.droppedFull.Add(float64(dropped))
			}
			t.metrics.queueLength.Set(float64(t.queue.len()))
			s.logger.Warn("cannot send alerts, will retry", "alertmanager", t.name, "count", len(batch), "retry_in", backoff, "err", err)
			select {
			case <-ctx.Done():
				s.drain(t)
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, s.opts.MaxBackoff)
		}
	}
}

// drain sends what is left after shutdown began, for a bounded time.
func (s *Sender) drain(t *target) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
	defer cancel()
	for ctx.Err() == nil {
		batch := t.queue.pop(s.opts.MaxBatchSize)
		if len(batch) == 0 {
			return
		}
		if err := s.post(ctx, t, batch); err != nil {
			t.metrics.droppedShutdown.Add(float64(len(batch) + t.queue.len()))
			s.logger.Error("alerts not delivered at shutdown", "alertmanager", t.name, "count", len(batch)+t.queue.len(), "err", err)
			return
		}
	}
	if left := t.queue.len(); left > 0 {
		t.metrics.droppedShutdown.Add(float64(left))
		s.logger.Error("alerts not delivered at shutdown", "alertmanager", t.name, "count", left, "err", ctx.Err())
	}
}

// rejectedError is a 4xx answer other than 429: sending again cannot help.
type rejectedError struct {
	status int
	body   string
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

func (s *Sender) post(ctx context.Context, t *target, batch []*entry) error {
	alerts := make([]*Alert, len(batch))
	for i, e := range batch {
		alerts[i] = e.alert
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return &rejectedError{body: fmt.Sprintf("cannot encode alerts: %v", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return &rejectedError{body: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kusanagi")
	start := time.Now()
	resp, err := s.opts.Client.Do(req)
	t.metrics.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		t.metrics.errors.Inc()
		return fmt.Errorf("cannot post alerts: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		t.metrics.sent.Add(float64(len(batch)))
		return nil
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout:
		t.metrics.errors.Inc()
		return &rejectedError{status: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	default:
		t.metrics.errors.Inc()
		return fmt.Errorf("cannot post alerts: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
}
