package amfork

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/api"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/route"
)

// side is one POST /api/v2/alerts implementation over Alertmanager's
// memory provider.
type side struct {
	alerts  *mem.Alerts
	reg     *prometheus.Registry
	handler http.Handler
	// upstreamPosts counts the POSTs upstream's handler answered.
	upstreamPosts int
}

// newUpstreamAPI is upstream's API, as upstream's main assembles it.
func newUpstreamAPI(t *testing.T, alerts provider.Alerts, reg prometheus.Registerer, conf *config.Config) http.Handler {
	t.Helper()
	silences, err := silence.New(silence.Options{Retention: time.Hour, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	apih, err := api.New(api.Options{
		Alerts: alerts, Silences: silences, Registry: reg,
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "request_duration_seconds"}, []string{"handler", "method", "code"}),
		GroupFunc: func(context.Context, func(*dispatch.Route) bool, dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
			return nil, nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	apih.Update(conf, func(context.Context, labelset.LabelSet) {})
	return apih.Register(route.New(), "/")
}

func newSide(t *testing.T, conf *config.Config, ours bool) *side {
	t.Helper()
	reg := prometheus.NewRegistry()
	capture := &apiMetricsCapture{Registerer: reg}
	alerts, err := mem.NewAlerts(t.Context(), time.Hour, 0, nil, slog.New(slog.DiscardHandler), eventrecorder.NopRecorder(), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alerts.Close)
	s := &side{alerts: alerts, reg: reg}
	upstreamAPI := newUpstreamAPI(t, alerts, capture, conf)
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			s.upstreamPosts++
		}
		upstreamAPI.ServeHTTP(w, r)
	})
	s.handler = upstream
	if !ours {
		return s
	}
	firing, resolved, invalid, err := capture.counters()
	if err != nil {
		t.Fatal(err)
	}
	post := &postAlerts{
		alerts: alerts, upstream: upstream, firing: firing, resolved: resolved, invalid: invalid,
		logger: slog.New(slog.DiscardHandler),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d"}, []string{"handler", "method", "code"}).
			MustCurryWith(prometheus.Labels{"handler": "/api/v2/alerts"}),
	}
	post.resolveTimeout.Store(int64(conf.Global.ResolveTimeout))
	s.handler = routePostAlerts(upstream, post, "/api/v2/alerts")
	return s
}

func (s *side) post(body string) (int, string, string) {
	req := httptest.NewRequest(http.MethodPost, "/api/v2/alerts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(b)
}

func (s *side) stored() map[model.Fingerprint]*alert.Alert {
	it := s.alerts.GetPending()
	defer it.Close()
	out := map[model.Fingerprint]*alert.Alert{}
	for a := range it.Next() {
		out[a.Data.Fingerprint()] = a.Data
	}
	return out
}

// TestPostAlertsAnswersAsUpstream posts the same bodies to upstream's
// handler and to ours: same status, same body, same alerts stored, same
// alertmanager_alerts_received_total and _invalid_total.
func TestPostAlertsAnswersAsUpstream(t *testing.T) {
	conf, err := config.Load("route: {receiver: none}\nreceivers: [{name: none}]\nglobal: {resolve_timeout: 7m}\n")
	if err != nil {
		t.Fatal(err)
	}
	upstream, ours := newSide(t, conf, false), newSide(t, conf, true)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	bodies := []string{
		`[{"labels":{"alertname":"A","instance":"h1"},"annotations":{"summary":"s"},"startsAt":"2026-11-25T10:00:00Z","endsAt":"` + future + `","generatorURL":"http://prom:9090/graph?g0.expr=up"}]`,
		`[{"labels":{"alertname":"NoTimes","instance":"h2"}}]`,
		`[{"labels":{"alertname":"Resolved","instance":"h3"},"endsAt":"` + past + `"}]`,
		`[{"labels":{"alertname":"EmptyLabel","instance":"h4","drop":""},"annotations":null}]`,
		`[{"labels":{"alertname":"Millis","instance":"h5"},"startsAt":"2026-11-25T10:00:00.123+0100"}]`,
		`[{"labels":{"alertname":"Nanos","instance":"h6"},"startsAt":"2026-11-25T10:00:00.123456789+01:00","endsAt":"` + future + `"}]`,
		`[{"labels":{"0bad":"x"}}]`,
		`[{"labels":{"alertname":"Good","instance":"h7"}},{"labels":{}},{"labels":{"alertname":"Later"},"startsAt":"` + future + `","endsAt":"` + past + `"}]`,
		`[{"annotations":{"summary":"no labels"}}]`,
		`[{"labels":null}]`,
		`[{"labels":{"alertname":"BadURL"},"generatorURL":"not a uri"}]`,
		`[{"labels":{"alertname":"BadTime"},"startsAt":"yesterday"}]`,
		`[{"labels":{"alertname":"Number","n":1}}]`,
		`{"labels":{"alertname":"NotAList"}}`,
		`[{"labels":{"alertname":"Trailing"}}] trailing`,
		`[{"labels":{"alertname":"Escaped","instance":"h\u00e9"},"startsAt":"2026-11-25T10:00:00\u005a"}]`,
		`[{"labels":{"alertname":"EmptyTime"},"startsAt":""}]`,
		`null`,
		`[]`,
		``,
		`[{`,
	}
	for _, body := range bodies {
		uc, ut, ub := upstream.post(body)
		oc, ot, ob := ours.post(body)
		if uc != oc || ut != ot || ub != ob {
			t.Errorf("POST %s\nupstream: %d %q %q\nours:     %d %q %q", body, uc, ut, ub, oc, ot, ob)
		}
	}
	// Only the eight bodies that break the schema went to upstream's handler.
	if ours.upstreamPosts != 8 {
		t.Errorf("upstream's handler answered %d of our POSTs, want the 8 malformed ones", ours.upstreamPosts)
	}
	want, got := upstream.stored(), ours.stored()
	if len(want) != len(got) || len(want) < 8 {
		t.Fatalf("upstream stored %d alerts, ours %d", len(want), len(got))
	}
	for fp, w := range want {
		g, ok := got[fp]
		if !ok {
			t.Errorf("%v stored by upstream only", w.Labels)
			continue
		}
		if !w.Labels.Equal(g.Labels) || !w.Annotations.Equal(g.Annotations) || w.GeneratorURL != g.GeneratorURL ||
			w.Timeout != g.Timeout || !near(w.StartsAt, g.StartsAt) || !near(w.EndsAt, g.EndsAt) ||
			w.StartsAt.Location().String() != g.StartsAt.Location().String() {
			t.Errorf("alert %v differs:\nupstream %+v\nours     %+v", w.Labels, w.Alert, g.Alert)
		}
	}
	for _, name := range []string{"alertmanager_alerts_received_total", "alertmanager_alerts_invalid_total"} {
		w, err := testutil.GatherAndCount(upstream.reg, name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := testutil.GatherAndCount(ours.reg, name)
		if err != nil {
			t.Fatal(err)
		}
		if w != g {
			t.Errorf("%s: upstream has %d series, ours %d", name, w, g)
		}
	}
	for _, status := range []string{"firing", "resolved"} {
		w := counterValue(t, upstream.reg, "alertmanager_alerts_received_total", status)
		g := counterValue(t, ours.reg, "alertmanager_alerts_received_total", status)
		if w != g || w == 0 {
			t.Errorf("received %s: upstream %v, ours %v", status, w, g)
		}
	}
	w := counterValue(t, upstream.reg, "alertmanager_alerts_invalid_total", "")
	g := counterValue(t, ours.reg, "alertmanager_alerts_invalid_total", "")
	if w != g || w == 0 {
		t.Errorf("invalid: upstream %v, ours %v", w, g)
	}
}

// near: times the handlers set from their own clocks differ by the time
// between the two requests.
func near(a, b time.Time) bool { return a.Sub(b).Abs() < 2*time.Second }

// counterValue is a gathered counter's value; status "" takes the only series.
func counterValue(t *testing.T, reg *prometheus.Registry, name, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if status == "" || (l.GetName() == "status" && l.GetValue() == status) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("%s{status=%q} not gathered", name, status)
	return 0
}
