package amfork

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// postAlerts serves POST /api/v2/alerts with the semantics of upstream's
// handler (api/v2 postAlertsHandler: startsAt and endsAt defaults, empty
// labels dropped, each alert validated, the valid ones stored, 400 naming
// the invalid ones) without go-openapi's binding, which decodes every alert
// twice through generic adapters and was a third of the CPU an ingest took.
// A body that is not a well-formed alert list goes to upstream's handler,
// so clients get upstream's error messages word for word.
type postAlerts struct {
	alerts   provider.Alerts
	upstream http.Handler
	// Upstream's alertmanager_alerts_received_total{status} and _invalid_total.
	firing, resolved, invalid prometheus.Counter
	logger                    *slog.Logger
	duration                  prometheus.ObserverVec
	// resolveTimeout is the configuration's global.resolve_timeout.
	resolveTimeout atomic.Int64
}

// postableAlert is upstream's PostableAlert with types that decode in one pass.
type postableAlert struct {
	Labels       labelSet `json:"labels"`
	Annotations  labelSet `json:"annotations"`
	StartsAt     dateTime `json:"startsAt"`
	EndsAt       dateTime `json:"endsAt"`
	GeneratorURL string   `json:"generatorURL"`
}

// labelSet decodes like upstream's models.LabelSet: any string keys; names
// are checked later by alert.Validate, which counts the alert as invalid.
type labelSet map[model.LabelName]model.LabelValue

// dateTime accepts exactly what strfmt.DateTime accepts, parsing RFC 3339
// (what every Prometheus and Kusanagi sender writes) first.
type dateTime time.Time

func (d *dateTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 {
		if t, err := time.ParseInLocation(time.RFC3339, string(b[1:len(b)-1]), strfmt.DefaultTimeLocation); err == nil {
			*d = dateTime(t)
			return nil
		}
	}
	var s strfmt.DateTime
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	*d = dateTime(s)
	return nil
}

// maxPostBody bounds a request body read into memory.
const maxPostBody = 64 << 20

func (p *postAlerts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	begin := time.Now()
	code := p.serve(w, r)
	if code != 0 {
		// Labelled as promhttp.InstrumentHandlerDuration labels upstream's.
		p.duration.With(prometheus.Labels{"method": "post", "code": strconv.Itoa(code)}).Observe(time.Since(begin).Seconds())
	}
}

// serve returns the status it answered, or 0 when upstream answered (and
// observed its own duration).
func (p *postAlerts) serve(w http.ResponseWriter, r *http.Request) int {
	body, err := readBody(r)
	r.Body.Close()
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errBodyTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "cannot read the request body: "+err.Error(), code)
		return code
	}
	posted, ok := decodePostable(body)
	if !ok {
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.upstream.ServeHTTP(w, r)
		return 0
	}

	now := time.Now()
	resolveTimeout := time.Duration(p.resolveTimeout.Load())
	valid := make([]*alert.Alert, 0, len(posted))
	var validationErrs error
	for i := range posted {
		pa := &posted[i]
		a := model.Alert{
			Labels:       model.LabelSet(pa.Labels),
			Annotations:  model.LabelSet(pa.Annotations),
			StartsAt:     time.Time(pa.StartsAt),
			EndsAt:       time.Time(pa.EndsAt),
			GeneratorURL: pa.GeneratorURL,
		}
		if a.Annotations == nil {
			a.Annotations = model.LabelSet{}
		}
		if a.StartsAt.IsZero() {
			if a.EndsAt.IsZero() {
				a.StartsAt = now
			} else {
				a.StartsAt = a.EndsAt
			}
		}
		timeout := false
		if a.EndsAt.IsZero() {
			timeout = true
			a.EndsAt = now.Add(resolveTimeout)
		}
		if a.EndsAt.After(time.Now()) {
			p.firing.Inc()
		} else {
			p.resolved.Inc()
		}
		for k, v := range a.Labels {
			if v == "" {
				delete(a.Labels, k)
			}
		}
		if err := alert.Validate(&a); err != nil {
			validationErrs = errors.Join(validationErrs, err)
			p.invalid.Inc()
			continue
		}
		valid = append(valid, alert.New(a, now, timeout))
	}
	w.Header().Set("Cache-Control", "no-store")
	if err := p.alerts.Put(r.Context(), valid...); err != nil {
		p.logger.Error("Failed to create alerts", "path", r.URL.Path, "method", r.Method, "err", err)
		writeJSONString(w, http.StatusInternalServerError, err.Error())
		return http.StatusInternalServerError
	}
	if validationErrs != nil {
		p.logger.Error("Failed to validate alerts", "path", r.URL.Path, "method", r.Method, "err", validationErrs.Error())
		writeJSONString(w, http.StatusBadRequest, validationErrs.Error())
		return http.StatusBadRequest
	}
	w.WriteHeader(http.StatusOK)
	return http.StatusOK
}

var errBodyTooLarge = fmt.Errorf("larger than %d MiB", maxPostBody>>20)

// readBody reads the whole body in one allocation when its length is known.
func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= maxPostBody {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxPostBody+1))
	if err == nil && buf.Len() > maxPostBody {
		err = errBodyTooLarge
	}
	return buf.Bytes(), err
}

// decodePostable decodes a well-formed alert list. Upstream's JSON consumer
// reads the first JSON value and ignores what follows; Unmarshal, which
// needs no copy of the body, refuses trailing data, so a body it refuses
// is read again as upstream reads it.
func decodePostable(body []byte) ([]postableAlert, bool) {
	if posted, ok := decodeAlertList(body); ok {
		return posted, wellFormed(posted)
	}
	var posted []postableAlert
	if err := json.Unmarshal(body, &posted); err != nil {
		posted = nil
		if json.NewDecoder(bytes.NewReader(body)).Decode(&posted) != nil {
			return nil, false
		}
	}
	return posted, wellFormed(posted)
}

// wellFormed applies the OpenAPI schema's checks that decoding does not:
// labels are required, generatorURL is a URI.
func wellFormed(alerts []postableAlert) bool {
	for i := range alerts {
		if alerts[i].Labels == nil {
			return false
		}
		if u := alerts[i].GeneratorURL; u != "" && !strfmt.Default.Validates("uri", u) {
			return false
		}
	}
	return true
}

// writeJSONString answers as go-openapi's JSON producer does for a string payload.
func writeJSONString(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(s)
}

// routePostAlerts sends POST path to post and everything else to mux.
func routePostAlerts(mux http.Handler, post *postAlerts, path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == path {
			post.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// apiMetricsCapture registers what upstream's API registers and keeps its
// alertmanager_alerts_received_total and alertmanager_alerts_invalid_total,
// so that postAlerts and upstream's handler (which answers malformed
// bodies) count on the same series.
type apiMetricsCapture struct {
	prometheus.Registerer
	received *prometheus.CounterVec
	invalid  prometheus.Counter
}

// Upstream's definitions (api/metrics): a collector is captured when it
// describes itself exactly as these do.
var (
	receivedDesc = describe(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "alertmanager_alerts_received_total",
		Help:        "The total number of received alerts.",
		ConstLabels: prometheus.Labels{"version": "v2"},
	}, []string{"status"}))
	invalidDesc = describe(prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "alertmanager_alerts_invalid_total",
		Help:        "The total number of received alerts that were invalid.",
		ConstLabels: prometheus.Labels{"version": "v2"},
	}))
)

func describe(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 8)
	go func() { c.Describe(ch); close(ch) }()
	var s strings.Builder
	for d := range ch {
		s.WriteString(d.String())
	}
	return s.String()
}

func (c *apiMetricsCapture) Register(col prometheus.Collector) error {
	switch describe(col) {
	case receivedDesc:
		c.received, _ = col.(*prometheus.CounterVec)
	case invalidDesc:
		c.invalid, _ = col.(prometheus.Counter)
	}
	return c.Registerer.Register(col)
}

func (c *apiMetricsCapture) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		if err := c.Register(col); err != nil {
			panic(err)
		}
	}
}

// counters returns the captured counters, or an error if upstream's API
// no longer registers them as captured.
func (c *apiMetricsCapture) counters() (firing, resolved, invalid prometheus.Counter, err error) {
	if c.received == nil || c.invalid == nil {
		return nil, nil, nil, errors.New("cannot find the API's alertmanager_alerts_received_total and _invalid_total: upstream's definitions changed")
	}
	return c.received.WithLabelValues("firing"), c.received.WithLabelValues("resolved"), c.invalid, nil
}
